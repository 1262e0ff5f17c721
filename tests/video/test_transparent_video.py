"""Issue 13: videos with transparency. ``mode=transparent`` writes WebM (VP9 with an alpha
channel, plays in Chromium) and, on request, ProRes 4444 MOV for editors; the audio is
kept. The pipeline on a clip of a real portrait, the API over HTTP with the real task body,
and the WebM played in real Chromium."""

from __future__ import annotations

import base64
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from accounts.services import token_create
from compositing.services import composite_video_run
from compositing.video import composite_video
from tests.browser.conftest import browser_page  # noqa: F401 (a fixture, used below)
from tests.video.clips import audio_packets, make_clip
from tests.video.test_pipeline import far_background


def alpha_frames(path: Path) -> list[np.ndarray]:
    """The alpha plane (uint8 H x W) of every frame; WebM through libvpx (FFmpeg's own VP9
    decoder drops alpha), MOV through the ProRes decoder."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if path.suffix == ".webm":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
            frames = [f for packet in container.demux(stream) for f in decoder.decode(packet)]
        else:
            frames = list(container.decode(stream))
    for frame in frames:
        rgba = frame.reformat(format="rgba").to_ndarray()
        out.append(rgba[..., 3])
    return out


def person_box(clip, index: int, person: np.ndarray) -> np.ndarray:
    x, y = clip.positions[index]
    mask = np.zeros((clip.height, clip.width), bool)
    mask[y : y + clip.patch_size, x : x + clip.patch_size] = person
    return mask


@pytest.mark.parametrize(("fmt", "codec"), [("webm", "vp9"), ("mov", "prores")])
def test_transparent_video_has_the_person_opaque_and_the_rest_clear(
    engine, tmp_path, reference_person, fmt, codec
):
    clip = make_clip(tmp_path / "talk.mp4", frames=12, audio=True)
    out = tmp_path / f"out.{fmt}"

    result = composite_video(
        clip.path, out, segmenter=engine, mode="transparent", output_format=fmt
    )

    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.name == codec
        assert len(container.streams.audio) == 1
    alphas = alpha_frames(out)
    assert len(alphas) == clip.frames == result.frames
    person = reference_person(clip.patch_size)
    for index in (0, clip.frames // 2, clip.frames - 1):
        alpha = alphas[index]
        assert alpha[person_box(clip, index, person)].mean() > 240
        assert alpha[far_background(clip, index)].mean() < 10
    if fmt == "mov":
        assert result.audio == "copied"
        assert audio_packets(out) == audio_packets(clip.path)
    else:
        assert result.audio == "opus"  # WebM carries Opus or Vorbis: the AAC is re-encoded


def test_a_transparent_mp4_is_refused_before_any_work(engine, tmp_path):
    from vbgsite.errors import InvalidOption

    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    with pytest.raises(InvalidOption, match="no transparency"):
        composite_video(clip.path, tmp_path / "o.mp4", segmenter=engine, mode="transparent")
    with pytest.raises(InvalidOption, match="no transparency"):
        composite_video(
            clip.path, tmp_path / "o.webm", segmenter=engine, mode="blur", output_format="webm"
        )
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "o.webm").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fields", "content_type"),
    [({}, "video/webm"), ({"format": "mov"}, "video/quicktime")],
)
def test_api_transparent_video_job(live_server, user, engine, tmp_path, fields, content_type):
    clip = make_clip(tmp_path / "clip.mp4", frames=8, audio=True)
    _token, key = token_create(user=user, name="alpha")
    auth = {"Authorization": f"Token {key}"}
    with clip.path.open("rb") as handle:
        created = requests.post(
            f"{live_server.url}/api/v1/composites/",
            files={"video": ("clip.mp4", handle, "video/mp4")},
            data={"mode": "transparent", **fields},
            headers=auth,
            timeout=60,
        )
    assert created.status_code == 202, created.text
    body = created.json()
    assert body["mode"] == "transparent" and body["format"] == content_type.split("/")[1].replace(
        "quicktime", "mov"
    )

    assert composite_video_run(composite_id=body["id"]) == "done"  # the worker's task body

    detail = requests.get(body["url"], headers=auth, timeout=60).json()
    result = requests.get(detail["result_url"], headers=auth, timeout=60)
    assert result.status_code == 200
    assert result.headers["Content-Type"] == content_type
    saved = tmp_path / ("result." + detail["format"])
    saved.write_bytes(result.content)
    alphas = alpha_frames(saved)
    assert len(alphas) == clip.frames
    assert alphas[0].min() < 10 and alphas[0].max() > 245
    thumbnail = requests.get(detail["thumbnail_url"], headers=auth, timeout=60)
    assert thumbnail.status_code == 200


def test_the_webm_plays_with_transparency_in_chromium(
    engine,
    tmp_path,
    reference_person,
    browser_page,  # noqa: F811 (the fixture)
):
    clip = make_clip(tmp_path / "clip.mp4", frames=12, audio=False)
    out = tmp_path / "out.webm"
    composite_video(clip.path, out, segmenter=engine, mode="transparent", output_format="webm")
    x, y = clip.positions[0]
    rows, cols = np.nonzero(reference_person(clip.patch_size))
    inside = [int(x + np.median(cols)), int(y + np.median(rows))]  # surely the person
    data = base64.b64encode(out.read_bytes()).decode()
    page = browser_page
    page.set_content("<video muted playsinline></video><canvas></canvas>")

    pixels = page.evaluate(
        """async ([data, points]) => {
            const video = document.querySelector("video");
            video.src = "data:video/webm;base64," + data;
            await new Promise((ok, fail) => { video.onloadeddata = ok; video.onerror = fail; });
            video.currentTime = 0.01;  // a decoded, painted frame to draw
            await new Promise((ok) => { video.onseeked = ok; });
            const canvas = document.querySelector("canvas");
            canvas.width = video.videoWidth; canvas.height = video.videoHeight;
            const context = canvas.getContext("2d");
            context.drawImage(video, 0, 0);
            return points.map(([px, py]) => Array.from(context.getImageData(px, py, 1, 1).data));
        }""",
        [data, [[3, 3], inside]],
    )

    corner, face = pixels
    assert corner[3] < 20  # the room is gone: transparent
    assert face[3] > 235  # the person is opaque
