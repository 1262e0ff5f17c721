"""A web worker warms the whole photo path before its first request (gunicorn's
post_worker_init): the detectors' frozen graphs exist, and a failure never stops it."""

from __future__ import annotations

import logging

import pytest

from compositing import engine
from vbgsite import gunicorn_conf


def test_worker_warm_up_builds_the_detectors_graphs(segmenter_ready, monkeypatch):
    monkeypatch.setattr(engine, "_threads_override", 1)  # as after fork_safe_warm_up
    monkeypatch.setattr(engine, "_beside", None)
    monkeypatch.setattr(engine.get_person_detector(), "_runtimes", {})
    gunicorn_conf.post_worker_init(worker=None)
    assert set(engine.get_person_detector()._runtimes) == {"face", "person"}


def test_the_photo_path_warm_up_covers_a_stored_background_both_ways(monkeypatch):
    """A library background's path: a JPEG decoded as stored ones are, then covered by an
    enlargement and by a reduction (OpenCV's and Pillow's resizes)."""
    covered = []

    def cover(image, canvas, placement):
        covered.append((image.size, image.mode, canvas))
        return real_cover(image, canvas, placement)

    real_cover = engine.background_canvas
    monkeypatch.setattr(engine, "background_canvas", cover)
    engine._warm_background_path((864, 1152))
    assert covered == [((1920, 1080), "RGB", (864, 1152)), ((1920, 1080), "RGB", (432, 384))]


def test_worker_warm_up_does_nothing_without_a_preloaded_model(monkeypatch):
    monkeypatch.setattr(engine, "_threads_override", None)
    monkeypatch.setattr(engine, "get_engine", lambda: pytest.fail("must not load the model"))
    engine.worker_warm_up()


def test_a_failing_warm_up_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setattr(engine, "_threads_override", 1)

    def broken():
        raise RuntimeError("no weights today")

    monkeypatch.setattr(engine, "get_engine", broken)
    with caplog.at_level(logging.ERROR, logger="compositing.engine"):
        engine.worker_warm_up()
    assert "worker warm-up failed" in caplog.text


class _Worker:
    """What ``_connect_request_threads`` reads of a gunicorn ``gthread`` worker."""

    def __init__(self, threads: int) -> None:
        from concurrent.futures import ThreadPoolExecutor
        from types import SimpleNamespace

        self.tpool = ThreadPoolExecutor(max_workers=threads)
        self.cfg = SimpleNamespace(threads=threads)


def _on_every_thread(worker: _Worker, count: int, task):
    """``task()`` on ``count`` different threads of the worker's pool, at once."""
    import threading

    together = threading.Barrier(count)

    def run():
        together.wait(timeout=10)
        return threading.get_ident(), task()

    futures = [worker.tpool.submit(run) for _ in range(count)]
    return [future.result(timeout=20) for future in futures]


def test_request_threads_start_with_their_database_connections(transactional_db):
    from django.db import connection

    worker = _Worker(threads=4)
    try:
        gunicorn_conf._connect_request_threads(worker)
        opened = _on_every_thread(worker, 4, lambda: connection.connection is not None)
        assert len({ident for ident, _ in opened}) == 4  # the pool's four threads
        assert all(is_open for _, is_open in opened)
    finally:
        _on_every_thread(worker, 4, lambda: connection.close())
        worker.tpool.shutdown()


def test_a_database_that_does_not_answer_is_logged_not_raised(monkeypatch, caplog):
    from django.db import connection

    def down():
        raise ConnectionError("no database today")

    monkeypatch.setattr(connection, "ensure_connection", down)
    worker = _Worker(threads=2)
    try:
        with caplog.at_level(logging.WARNING, logger="gunicorn.error"):
            gunicorn_conf._connect_request_threads(worker)
    finally:
        worker.tpool.shutdown()
    assert caplog.text.count("could not connect to the database") == 2
