"""compute_beside: a photo's independent stages overlap on a side thread, within the
request's compute slot (no deadlock when the side task takes a slot itself), with the
same results and errors as running them in line."""

from __future__ import annotations

import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

import pytest

from compositing import engine


@pytest.fixture(autouse=True)
def one_slot(settings, monkeypatch):
    settings.VBG_COMPUTE_SLOTS = 1
    settings.VBG_SIDE_THREADS = 1
    monkeypatch.setattr(engine, "_slots", None)
    monkeypatch.setattr(engine, "_beside", None)


def test_runs_on_another_thread_beside_the_caller():
    started, release = threading.Event(), threading.Event()

    def side() -> str:
        started.set()
        release.wait(5)
        return threading.current_thread().name

    future = engine.compute_beside(side)
    assert started.wait(5)  # running while the caller goes on
    assert not future.done()
    release.set()
    assert future.result(5).startswith("compute-beside")


def test_a_side_task_of_a_slot_holder_passes_through_the_slot():
    # The request holds the only slot and waits for its side task, which takes a slot too
    # (person_in_photo does): it must not wait for the slot its own request holds.
    with engine.compute_slot():
        future = engine.compute_beside(lambda: _in_slot("inner"))
        try:
            assert future.result(timeout=10) == "inner"
        except FutureTimeout:
            pytest.fail("the side task waited for the slot its own request holds")
    with engine.compute_slot():  # and the slot is free again afterwards
        pass


def test_a_side_task_outside_any_slot_waits_for_one():
    holder_in, release = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.compute_slot():
            holder_in.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holder_in.wait(5)
    future = engine.compute_beside(lambda: _in_slot("after"))
    with pytest.raises(FutureTimeout):
        future.result(timeout=0.3)  # bounded: the other request has the slot
    release.set()
    holder.join(5)
    assert future.result(timeout=10) == "after"


def test_errors_come_back_through_the_future():
    def broken() -> None:
        raise ValueError("bad stage")

    with pytest.raises(ValueError, match="bad stage"):
        engine.compute_beside(broken).result(5)


def test_zero_side_threads_runs_in_line(settings, monkeypatch):
    settings.VBG_SIDE_THREADS = 0
    monkeypatch.setattr(engine, "_beside", None)
    future = engine.compute_beside(lambda: threading.current_thread().name)
    assert future.done() and future.result() == threading.current_thread().name

    def broken() -> None:
        raise ValueError("in line")

    with pytest.raises(ValueError, match="in line"):
        engine.compute_beside(broken).result()


def _in_slot(value: str) -> str:
    with engine.compute_slot():
        return value


def test_shared_work_is_done_once_per_item_by_the_caller_and_the_side_thread():
    done: list[tuple[int, str]] = []
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=5)  # each thread's first item waits for the other's

    def work(item: int) -> None:
        name = threading.current_thread().name
        with lock:
            first = all(other != name for _, other in done)
            done.append((item, name))
        if first:
            both.wait()

    engine.compute_shared(work, range(12))
    assert sorted(item for item, _ in done) == list(range(12))
    assert len({name for _, name in done}) == 2  # the caller and the side thread


def test_shared_work_does_not_wait_for_a_busy_side_thread():
    busy, release = threading.Event(), threading.Event()
    blocker = engine.compute_beside(lambda: (busy.set(), release.wait(10)))
    assert busy.wait(5)
    names: list[str] = []
    engine.compute_shared(lambda item: names.append(threading.current_thread().name), range(5))
    assert names == [threading.current_thread().name] * 5  # all in the caller, no waiting
    release.set()
    blocker.result(5)


def test_an_error_in_shared_work_is_raised_to_the_caller():
    def work(item: int) -> None:
        if item == 3:
            raise ValueError("bad strip")

    with pytest.raises(ValueError, match="bad strip"):
        engine.compute_shared(work, range(8))


def test_queued_side_tasks_start_by_urgency_then_in_order():
    from compositing.side_threads import IDLE, NORMAL, URGENT, PriorityPool

    pool = PriorityPool(1, "test-pool")
    busy, release = threading.Event(), threading.Event()
    pool.submit(NORMAL, lambda: (busy.set(), release.wait(10)))
    assert busy.wait(5)  # the one thread is taken: everything below queues
    started: list[str] = []
    futures = [
        pool.submit(urgency, started.append, name)
        for urgency, name in [
            (IDLE, "idle 1"),
            (NORMAL, "normal 1"),
            (URGENT, "urgent"),
            (NORMAL, "normal 2"),
            (IDLE, "idle 2"),
        ]
    ]
    skipped = pool.submit(NORMAL, started.append, "cancelled")
    assert skipped.cancel()
    release.set()
    for future in futures:
        future.result(5)
    assert started == ["urgent", "normal 1", "normal 2", "idle 1", "idle 2"]
    with pytest.raises(ZeroDivisionError):
        pool.submit(URGENT, lambda: 1 / 0).result(5)


def test_later_runs_on_the_idle_side_thread():
    ran = threading.Event()
    later = engine.Later(lambda: (ran.set(), threading.current_thread().name)[1])
    assert ran.wait(5)  # by itself: the side thread had nothing else to do
    assert later.result().startswith("compute-beside")
    assert later.result().startswith("compute-beside")  # once only


def test_later_not_started_yet_is_taken_back_and_run_by_the_caller():
    busy, release = threading.Event(), threading.Event()
    calls: list[str] = []
    blocker = engine.compute_beside(lambda: (busy.set(), release.wait(10)))
    assert busy.wait(5)
    later = engine.Later(lambda: calls.append(threading.current_thread().name) or len(calls))
    assert later.result() == 1  # not waited for: the side thread is still busy
    assert calls == [threading.current_thread().name]
    release.set()
    blocker.result(5)
    time.sleep(0.05)  # the side thread skips the cancelled call
    assert later.result() == 1 and len(calls) == 1


def test_later_with_no_side_thread_runs_when_asked(settings, monkeypatch):
    settings.VBG_SIDE_THREADS = 0
    monkeypatch.setattr(engine, "_beside", None)
    calls: list[int] = []
    later = engine.Later(calls.append, 1)
    assert calls == []  # nothing run in line at creation: only if someone asks
    later.result()
    later.result()
    assert calls == [1]

    def broken() -> None:
        raise ValueError("idle work failed")

    with pytest.raises(ValueError, match="idle work failed"):
        engine.Later(broken).result()
