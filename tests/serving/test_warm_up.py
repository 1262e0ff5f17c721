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
