"""Hole 5 (issue 13): video frame size was not checked on input; a 16000 x 16000 video
(8 MB) and an 8192 x 8192 one (17 KB) were accepted and processed (worker peak 2.06 GB).
Now frames over ``VBG_MAX_VIDEO_PIXELS`` are refused with 413 ``video_too_large`` from the
stream's header, before any frame is decoded, and nothing is stored or queued."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from compositing.models import Composite
from compositing.video import probe_video
from tests.video.clips import make_clip
from vbgsite.errors import VideoTooLarge

pytestmark = pytest.mark.django_db(transaction=True)


def one_black_frame(path: Path, width: int, height: int) -> Path:
    """A one-frame H.264 MP4 of width x height (an 8192 x 8192 one is ~200 KB)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def huge_video(tmp_path_factory) -> Path:
    return one_black_frame(tmp_path_factory.mktemp("huge") / "huge.mp4", 8192, 8192)


def assert_refused(response, list_storage_files) -> None:
    assert response.status_code == 413, response.text[:300]
    body = response.json()
    assert body["code"] == "video_too_large"
    assert "8192 x 8192" in body["detail"]
    assert not Composite.objects.exists()
    assert list_storage_files() == []


def test_api_refuses_an_8192_square_video(live_api, huge_video, list_storage_files):
    with huge_video.open("rb") as handle:
        response = live_api.request(
            "POST",
            "/api/v1/composites/",
            files={"video": ("huge.mp4", handle, "video/mp4")},
            data={"mode": "blur"},
        )

    assert_refused(response, list_storage_files)


def test_studio_refuses_it_too(live_server, client_logged_in, huge_video, list_storage_files):
    with huge_video.open("rb") as handle:
        response = client_logged_in.post(
            "/video/",
            {"video": handle, "background": "blur"},
            headers={"Accept": "application/json"},
        )

    assert response.status_code == 413
    assert b"8192 x 8192" in response.content
    assert not Composite.objects.exists()
    assert list_storage_files() == []


def test_the_limit_is_the_setting(live_api, settings, tmp_path, list_storage_files):
    clip = make_clip(tmp_path / "clip.mp4", frames=3)
    settings.VBG_MAX_VIDEO_PIXELS = clip.width * clip.height - 1

    with clip.path.open("rb") as handle:
        refused = live_api.request(
            "POST", "/api/v1/composites/", files={"video": handle}, data={"mode": "blur"}
        )
    settings.VBG_MAX_VIDEO_PIXELS = clip.width * clip.height
    with clip.path.open("rb") as handle:
        accepted = live_api.request(
            "POST", "/api/v1/composites/", files={"video": handle}, data={"mode": "blur"}
        )

    assert refused.status_code == 413 and refused.json()["code"] == "video_too_large"
    assert accepted.status_code == 202, accepted.text


def test_probe_checks_before_decoding(huge_video):
    with pytest.raises(VideoTooLarge, match=r"67\.1 MP"):
        probe_video(huge_video, max_pixels=4096 * 2160)
    assert probe_video(huge_video).width == 8192  # no limit given: described as before


def test_default_limit_takes_4k(settings):
    assert settings.VBG_MAX_VIDEO_PIXELS >= 3840 * 2160
    assert settings.VBG_MAX_VIDEO_PIXELS < 8192 * 8192
