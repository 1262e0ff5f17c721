"""Row-wise jobs in two halves: every row exactly once, halves on strip boundaries, the
same pixels as one thread (guided filter, decontaminated paste), and a busy side thread's
half taken back by the caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from compositing import halves
from compositing.compose import compose_image
from compositing.segmentation.refine import GuidedFilterParams, refine_guided
from tests.compositing_core.factories import astronaut, disc_alpha


@pytest.fixture
def lent():
    pool = ThreadPoolExecutor(1, "test-side")
    halves.lend_thread(pool.submit)
    yield pool
    halves.lend_thread(None)
    pool.shutdown()


def _record(height: int, step: int, *, first_half_s: float = 0.0) -> list[tuple[int, int, str]]:
    calls: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def work(start: int, stop: int) -> None:
        if start == 0:
            time.sleep(first_half_s)  # long enough for an idle side thread to pick its half
        with lock:
            calls.append((start, stop, threading.current_thread().name))

    halves.split_rows(work, height, step=step)
    return sorted(calls)


def test_two_halves_on_strip_boundaries(lent):
    calls = _record(1000, 64, first_half_s=0.2)
    assert [(a, b) for a, b, _ in calls] == [(0, 448), (448, 1000)]
    assert calls[1][2].startswith("test-side")  # the lower half ran on the lent thread


def test_short_jobs_and_no_lent_thread_run_whole(lent):
    assert [(a, b) for a, b, _ in _record(100, 64)] == [(0, 100)]
    halves.lend_thread(None)
    assert [(a, b) for a, b, _ in _record(1000, 64)] == [(0, 1000)]


def test_a_busy_side_thread_s_half_is_taken_back(lent):
    release = threading.Event()
    lent.submit(release.wait, 10)  # the side thread is busy with another stage
    calls = _record(1000, 64)
    release.set()
    assert [(a, b) for a, b, _ in calls] == [(0, 448), (448, 1000)]
    assert all(name == threading.current_thread().name for _, _, name in calls)


def test_guided_filter_in_halves_is_identical(lent):
    rng = np.random.default_rng(3)
    photo = torch.from_numpy(np.asarray(astronaut().resize((900, 1300))).copy())
    prob = torch.from_numpy(rng.random((256, 256)).astype(np.float32))
    params = GuidedFilterParams()
    two = refine_guided(photo, prob, params, torch.zeros(1300, 900, dtype=torch.uint8))
    halves.lend_thread(None)
    one = refine_guided(photo, prob, params, torch.zeros(1300, 900, dtype=torch.uint8))
    assert torch.equal(one, two)


@pytest.mark.parametrize("mode", ["image", "color", "transparent"])
def test_decontaminated_paste_in_halves_is_identical(lent, mode):
    photo = astronaut().resize((800, 1200))
    alpha = disc_alpha(1200, 800, radius=350, soft=12)
    options = {"background": astronaut(), "color": (10, 200, 30)}
    two = np.asarray(compose_image(photo, alpha, mode=mode, **options))
    halves.lend_thread(None)
    one = np.asarray(compose_image(photo, alpha, mode=mode, **options))
    assert np.array_equal(one, two)
