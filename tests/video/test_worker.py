"""Video jobs on the real task worker (``manage.py run_worker`` in a subprocess).

Each test uploads a clip generated from a real portrait, lets the worker process it and
checks what a user would notice: the result plays as H.264 MP4 with every frame and the
audio, the person is unchanged and the background replaced, the progress bar only moves
forward, cancel stops the job, a killed worker's job is finished by the next worker, and a
broken file fails with a reason.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django_tasks_db.models import DBTaskResult
from PIL import Image

from compositing.models import Composite
from compositing.services import composite_cancel, composite_create_video, composite_delete
from tests.video.clips import (
    audio_packets,
    decode_rgb,
    make_clip,
    new_background,
    stream_facts,
)
from tests.video.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def png(array: np.ndarray) -> io.BytesIO:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    out.seek(0)
    out.name = "new-background.png"
    return out


def create(user, clip_path: Path, **options) -> Composite:
    options.setdefault("mode", "image")
    if options["mode"] == "image":
        options.setdefault("background_file", png(new_background()))
    with open(clip_path, "rb") as video:
        return composite_create_video(user=user, video=video, **options)


def person_pixels(clip, index: int, person: np.ndarray) -> np.ndarray:
    """Where the portrait's surely-person pixels are in frame ``index`` (bool H x W)."""
    x, y = clip.positions[index]
    mask = np.zeros((clip.height, clip.width), bool)
    mask[y : y + clip.patch_size, x : x + clip.patch_size] = person
    return mask


def background_mask(clip, index: int, margin: int) -> np.ndarray:
    """Pixels well away from the pasted portrait (surely background) in frame ``index``."""
    mask = np.ones((clip.height, clip.width), bool)
    x, y = clip.positions[index]
    size = clip.patch_size
    mask[max(0, y - margin) : y + size + margin, max(0, x - margin) : x + size + margin] = False
    return mask


def covered_background(width: int, height: int) -> np.ndarray:
    from compositing.compose import cover

    return cover(new_background(), width, height).astype(np.int16)


def test_video_job_keeps_frames_audio_and_person_and_replaces_background(
    user, start_worker, tmp_path, list_storage_files, reference_person
):
    clip = make_clip(tmp_path / "talk.mp4", frames=100)
    composite = create(user, clip.path)
    assert composite.status == Composite.Status.QUEUED
    assert composite.kind == Composite.Kind.VIDEO
    assert DBTaskResult.objects.filter(status="READY").count() == 1

    worker = start_worker()
    seen: list[tuple[str, float, int]] = []

    def finished() -> bool:
        row = Composite.objects.get(pk=composite.pk)
        seen.append((row.status, row.progress, row.frames_done))
        return row.is_finished

    wait_for(finished, timeout=180, interval=0.02, what="the job to finish", worker=worker)
    composite.refresh_from_db()
    assert composite.status == Composite.Status.DONE, composite.error
    assert composite.attempts == 1
    assert composite.progress == 100.0
    assert composite.frames_done == composite.frames_total == clip.frames

    # Progress only ever rises, and the page saw it between 0 and 100 while running.
    progress = [p for _, p, _ in seen]
    frames = [f for _, _, f in seen]
    assert progress == sorted(progress)
    assert frames == sorted(frames)
    assert any(0 < p < 100 for status, p, _ in seen if status == "running"), seen

    # An H.264 MP4 with faststart that browsers play; every frame; the same duration.
    result = Path(default_storage.path(composite.result.name))
    facts, source_facts = stream_facts(result), stream_facts(clip.path)
    assert facts["codec"] == "h264" and facts["pix_fmt"] == "yuv420p"
    assert facts["fps"] == source_facts["fps"] == clip.fps
    assert facts["duration"] == pytest.approx(clip.duration, abs=1 / clip.fps)
    data = result.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    out_frames = decode_rgb(result)
    assert len(out_frames) == clip.frames

    # The audio is the source's, packet for packet.
    assert facts["audio_codec"] == "aac"
    source_audio = audio_packets(clip.path)
    assert source_audio and audio_packets(result) == source_audio

    # The person keeps the source pixels; the background shows the new background.
    source_frames = decode_rgb(clip.path)
    target = covered_background(clip.width, clip.height)
    for index in (0, clip.frames // 2, clip.frames - 1):
        person = person_pixels(clip, index, reference_person(clip.patch_size))
        out = out_frames[index].astype(np.int16)
        src = source_frames[index].astype(np.int16)
        difference = np.abs(out[person] - src[person]).mean(axis=-1)
        assert difference.mean() < 5  # H.264 re-encoding noise
        assert (difference > 20).mean() < 0.05
        background = background_mask(clip, index, margin=12)
        assert np.abs(out[background] - target[background]).mean() < 6
        assert np.abs(src[background] - target[background]).mean() > 40

    # History: thumbnail, sizes, model; deleting the composite deletes every file.
    assert composite.thumbnail and composite.width == clip.width
    assert composite.model_name
    assert composite.duration == pytest.approx(clip.duration, abs=0.05)
    assert len(list_storage_files()) == 4  # source, one-off background, result, thumbnail
    composite_delete(user=user, composite_id=composite.pk)
    assert list_storage_files() == []


def test_cancel_a_running_job(user, start_worker, tmp_path, list_storage_files):
    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=500, audio=False)
    composite = create(user, clip.path, mode="color", color="#00FF00")
    worker = start_worker()

    def running() -> bool:
        row = Composite.objects.get(pk=composite.pk)
        return row.status == "running" and row.frames_done > 0

    wait_for(running, timeout=120, what="the job to start", worker=worker)
    cancelled = composite_cancel(user=user, composite_id=composite.pk)
    assert cancelled.cancel_requested
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).status == "cancelled",
        timeout=15,
        what="the job to stop",
        worker=worker,
    )
    composite.refresh_from_db()
    assert composite.frames_done < clip.frames
    assert not composite.result
    # Nothing but the source is stored; the worker is still up for the next job.
    assert len(list_storage_files()) == 1
    assert worker.alive


def test_cancel_a_queued_job_before_any_worker_sees_it(user, start_worker, tmp_path):
    clip = make_clip(tmp_path / "short.mp4", frames=10)
    composite = create(user, clip.path, mode="blur")
    cancelled = composite_cancel(user=user, composite_id=composite.pk)
    assert cancelled.status == Composite.Status.CANCELLED

    worker = start_worker(batch=True)
    assert worker.wait(timeout=120) == 0, worker.output()
    composite.refresh_from_db()
    assert composite.status == Composite.Status.CANCELLED
    assert composite.attempts == 0 and not composite.result


def test_a_killed_worker_job_is_finished_by_the_next_worker(user, start_worker, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=300, audio=True)
    composite = create(user, clip.path, mode="color", color="#2040C0")
    env = {"VBG_VIDEO_STALE_SECONDS": "3"}
    first = start_worker(**env)

    def halfway() -> bool:
        row = Composite.objects.get(pk=composite.pk)
        return row.status == "running" and row.frames_done > 0

    wait_for(halfway, timeout=120, what="the job to start", worker=first)
    first.kill()

    # Killed mid-job: the row says running and django-tasks-db's task row stays RUNNING.
    composite.refresh_from_db()
    assert composite.status == Composite.Status.RUNNING
    dead_task = DBTaskResult.objects.get(status="RUNNING")

    second = start_worker(**env)
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).status == "done",
        timeout=180,
        what="the next worker to finish the job",
        worker=second,
    )
    composite.refresh_from_db()
    assert composite.attempts == 2
    dead_task.refresh_from_db()
    assert dead_task.status == "FAILED"
    assert dead_task.exception_class_path.endswith("WorkerLost")
    result = Path(default_storage.path(composite.result.name))
    assert len(decode_rgb(result)) == clip.frames
    assert audio_packets(result) == audio_packets(clip.path)


def test_a_truncated_video_fails_with_a_reason(user, start_worker, tmp_path, list_storage_files):
    clip = make_clip(tmp_path / "whole.mp4", frames=60)
    # Move the index to the front (as phones and our own output do), then cut the file in
    # half: the header still promises 60 frames, the data holds about 30.
    import av

    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(clip.path)) as source,
        av.open(str(faststart), "w", options={"movflags": "+faststart"}) as out,
    ):
        mapping = {s.index: out.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream_index]
            out.mux(packet)
    data = faststart.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 2])

    composite = create(user, truncated, mode="color", color="#FFFFFF")
    worker = start_worker(batch=True)
    assert worker.wait(timeout=120) == 0, worker.output()
    composite.refresh_from_db()
    assert composite.status == Composite.Status.FAILED
    assert "truncated" in composite.error
    assert not composite.result
    assert len(list_storage_files()) == 1  # the source only


def test_a_stopping_worker_puts_its_job_back_in_the_queue(user, start_worker, tmp_path):
    # A deploy or a dyno restart: SIGTERM. The running job stops at the next frame and goes
    # back to the queue (the attempt does not count); the worker exits cleanly.
    import signal

    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=500, audio=False)
    composite = create(user, clip.path, mode="blur")
    worker = start_worker()

    def running() -> bool:
        row = Composite.objects.get(pk=composite.pk)
        return row.status == "running" and row.frames_done > 0

    wait_for(running, timeout=120, what="the job to start", worker=worker)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.output()
    composite.refresh_from_db()
    assert composite.status == Composite.Status.QUEUED
    assert composite.attempts == 0 and composite.frames_done == 0
    assert DBTaskResult.objects.filter(status="READY").count() == 1
    assert not composite.result


def test_a_video_job_with_its_files_in_s3(user, start_worker, tmp_path, s3_storage):
    """Production's storage: the worker reads the upload from the bucket and writes the
    result and thumbnail there (moto over HTTP, a separate process with only the
    environment's settings); the owner downloads it through a presigned URL; deleting the
    composite empties the bucket."""
    import requests

    clip = make_clip(tmp_path / "talk.mp4", frames=40, audio=True)
    composite = create(user, clip.path, mode="color", color="#2040C0")
    options = s3_storage_options()
    worker = start_worker(
        batch=True,
        AWS_STORAGE_BUCKET_NAME=s3_storage.bucket_name,
        AWS_S3_ENDPOINT_URL=s3_storage.endpoint_url,
        AWS_S3_REGION_NAME=options["region_name"],
        AWS_S3_ADDRESSING_STYLE=options["addressing_style"],
    )
    assert worker.wait(timeout=180) == 0, worker.output()
    composite.refresh_from_db()
    assert composite.status == Composite.Status.DONE, composite.error

    keys = s3_storage.keys()
    assert len(keys) == 3 and all(f"/{user.pk}/" in f"/{key}" for key in keys), keys
    assert composite.result.name in keys and composite.thumbnail.name in keys
    response = requests.get(composite.result.url, timeout=30)
    assert response.status_code == 200
    result = tmp_path / "result.mp4"
    result.write_bytes(response.content)
    assert stream_facts(result)["codec"] == "h264"
    assert len(decode_rgb(result)) == clip.frames
    assert audio_packets(result) == audio_packets(clip.path)

    composite_delete(user=user, composite_id=composite.pk)
    assert s3_storage.keys() == []


def s3_storage_options() -> dict:
    from django.conf import settings

    return settings.STORAGES["default"]["OPTIONS"]
