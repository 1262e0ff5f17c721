"""Video jobs on the Redis queue (VBG_TASKS_BACKEND=redis, django-tasks-redis) with the
real ``manage.py run_worker`` processes and the real Redis on 127.0.0.1:6379 (database 9,
a key prefix of this run's own): two workers drain one queue, progress and cancel work,
and a killed worker's job is finished by the next worker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import redis
from django.core.files.storage import default_storage
from django.tasks import task_backends

from compositing.models import Composite
from compositing.services import composite_cancel, composite_create_video
from compositing.services.video_queue import TASK_PATH, queue_backend_name
from tests.video.clips import decode_rgb, make_clip
from tests.video.conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def redis_queue(settings):
    """The Redis task backend for this test (enqueue here, consume in the workers); the
    environment a worker needs to use it. Every key of the run is deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"vbg-test-{uuid.uuid4().hex[:12]}"
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_redis.RedisTaskBackend",
            "OPTIONS": {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": prefix},
        }
    }
    assert queue_backend_name() == "redis"
    yield {"REDIS_URL": REDIS_URL, "VBG_TASKS_BACKEND": "redis", "VBG_TASKS_REDIS_PREFIX": prefix}
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def create(user, clip_path: Path) -> Composite:
    with open(clip_path, "rb") as video:
        return composite_create_video(user=user, video=video, mode="color", color="#2040C0")


def video_tasks() -> list[dict[str, str]]:
    backend = task_backends["default"]
    return [task for _, task in backend.iter_task_data() if task["task_path"] == TASK_PATH]


def test_two_workers_drain_one_redis_queue(user, redis_queue, start_worker, tmp_path):
    clips = [
        make_clip(tmp_path / f"{i}.mp4", width=320, height=192, frames=40, patch_size=160)
        for i in range(4)
    ]
    composites = [create(user, clip.path) for clip in clips]
    workers = [start_worker(**redis_queue), start_worker(**redis_queue)]
    wait_for(
        lambda: (
            Composite.objects.filter(status="done").count() == len(composites)
            and all(task["status"] == "SUCCESSFUL" for task in video_tasks())
        ),
        timeout=300,
        what="both workers to finish every job",
        worker=workers[0],
    )
    for composite, clip in zip(composites, clips, strict=True):
        composite.refresh_from_db()
        assert composite.attempts == 1
        assert len(decode_rgb(Path(default_storage.path(composite.result.name)))) == clip.frames
    tasks = video_tasks()
    assert sorted(task["status"] for task in tasks) == ["SUCCESSFUL"] * len(composites)
    ran_on = {json.loads(task["worker_ids_json"])[-1] for task in tasks}
    assert len(ran_on) == 2, "one worker took every job"


def test_progress_and_cancel_of_a_running_job_on_redis(user, redis_queue, start_worker, tmp_path):
    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=500, audio=False)
    composite = create(user, clip.path)
    worker = start_worker(**redis_queue)
    seen: list[int] = []

    def running() -> bool:
        row = Composite.objects.get(pk=composite.pk)
        seen.append(row.frames_done)
        return row.status == "running" and row.frames_done > 0 and row.progress > 0

    wait_for(running, timeout=120, what="the job to report progress", worker=worker)
    assert composite_cancel(user=user, composite_id=composite.pk).cancel_requested
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).status == "cancelled",
        timeout=15,
        what="the job to stop",
        worker=worker,
    )
    composite.refresh_from_db()
    assert composite.frames_done < clip.frames and not composite.result
    assert seen == sorted(seen)  # progress only moves forward
    assert worker.alive


def test_a_killed_workers_job_is_finished_by_the_next_worker_on_redis(
    user, redis_queue, start_worker, tmp_path
):
    clip = make_clip(tmp_path / "long.mp4", width=640, height=368, frames=300, audio=False)
    composite = create(user, clip.path)
    env = {**redis_queue, "VBG_VIDEO_STALE_SECONDS": "3"}
    first = start_worker(**env)
    wait_for(
        lambda: Composite.objects.get(pk=composite.pk).frames_done > 0,
        timeout=120,
        what="the job to start",
        worker=first,
    )
    first.kill()
    assert [task["status"] for task in video_tasks()] == ["RUNNING"]  # left behind

    second = start_worker(**env)
    # The composite is marked done a moment before the worker records its task as
    # finished: wait for both.
    wait_for(
        lambda: (
            Composite.objects.get(pk=composite.pk).status == "done"
            and sorted(task["status"] for task in video_tasks()) == ["FAILED", "SUCCESSFUL"]
        ),
        timeout=180,
        what="the next worker to finish the job",
        worker=second,
    )
    composite.refresh_from_db()
    assert composite.attempts == 2
    statuses = sorted(task["status"] for task in video_tasks())
    assert statuses == ["FAILED", "SUCCESSFUL"]  # the dead run, the new one
    assert len(decode_rgb(Path(default_storage.path(composite.result.name)))) == clip.frames
