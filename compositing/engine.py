"""Django-side glue for the segmentation engine (``compositing.segmentation``).

The segmentation package knows nothing about Django; this module feeds it the settings
(``VBG_MODEL_DIR``, ``VBG_SEGMENTER``, ``VBG_TORCH_THREADS``) on first use and turns the
engine's failures into the errors views and the API already map: missing/unconvertible
weights or a misconfigured model name → ``ModelUnavailable`` (503), an image the engine
cannot read → ``InvalidImage`` (400). Nothing loads at import time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connections
from PIL import Image

from compositing import heap
from compositing.compose import compose_image
from compositing.imaging import encode_image, load_image_pixels
from compositing.mattes import alpha_to_png
from compositing.placement import Placement, background_canvas
from compositing.segmentation import (
    FrameSegmenter,
    SegmentationError,
    Segmenter,
    UnknownSegmenter,
    WeightsError,
    WeightsMissing,
    configure,
    frame_segmenter,
    get_person_detector,
    get_segmenter,
)
from compositing.side_threads import IDLE, NORMAL, URGENT, PriorityPool
from compositing.thumbnails import make_thumbnail
from vbgsite.errors import InvalidImage, ModelUnavailable

logger = logging.getLogger(__name__)

# torch's intra-op threads for video. One is right: decoding and encoding keep the other
# core busy, and on two cores a 2-thread network call waits for a core and spins (measured:
# 4 fps instead of 34 on a loaded machine). The task worker runs one job at a time, so this
# is its setting; a web process never runs videos.
VIDEO_TORCH_THREADS = 1

# torch's intra-op threads while the model is loaded in a process that will fork (the
# gunicorn master): GNU OpenMP's thread team does not survive fork() (a child that then
# runs a parallel region hangs), and a team of one thread is never started.
_FORK_SAFE_THREADS = 1
_threads_override: int | None = None
_slots: threading.BoundedSemaphore | None = None
_slots_lock = threading.Lock()
_held = threading.local()  # depth > 0: this thread holds a slot (nested calls pass through)
_beside: tuple[int, PriorityPool | None] | None = None  # (pid, pool) of this process
_forking = False  # True while the gunicorn master warms up: it must start no threads
_IDLE_TRIM = 1.0  # seconds without compute before free heap pages go back to the kernel
# ... if private memory grew by more than this since the last trim or the worker's
# warm-up: a burst's leftovers, not the ~25 MB one composite reuses (compositing.heap).
# (64 MB let a worker rest at up to warm-up + 64 MB after a short burst.)
_idle_trim = heap.IdleTrim(allowance=32 << 20)
_last_compute = 0.0
_trimmer: threading.Thread | None = None


@dataclass(frozen=True)
class Engine:
    """A loaded segmenter; ``model_name`` is what a Composite records."""

    segmenter: Segmenter

    @property
    def model_name(self) -> str:
        return self.segmenter.name

    def segment(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """Person alpha, float32 HxW in 0..1 at the image's resolution (all zeros: no person)."""
        return self._run(self.segmenter.segment, image)

    def segment_matte(self, image: Image.Image | np.ndarray, *, shared: bool = False) -> np.ndarray:
        """The 8-bit matte: uint8 HxW, ``round(255 * alpha)`` of :meth:`segment`, made
        without a full-size float alpha where the backend can (the selfie one does).
        ``shared``: the backend may share its independent parts with the process's side
        thread when it is idle (:func:`compute_shared`)."""
        runner = compute_shared if shared else None
        return self._run(self.segmenter.segment_matte, image, runner=runner)

    def _run(self, method: Any, image: Image.Image | np.ndarray, **options: Any) -> np.ndarray:
        try:
            return method(image, **options)
        except (WeightsMissing, WeightsError) as exc:
            logger.error("segmentation model unavailable: %s", exc)
            raise ModelUnavailable() from exc
        except SegmentationError as exc:
            raise InvalidImage(f"This image cannot be segmented: {exc}") from exc


def _configure() -> None:
    threads = settings.VBG_TORCH_THREADS if _threads_override is None else _threads_override
    configure(model_dir=settings.VBG_MODEL_DIR, threads=threads, device=device_name())


def device_name() -> str:
    """The torch device the model runs on: ``settings.VBG_DEVICE`` (``cpu`` or ``cuda``),
    or for ``auto`` CUDA when torch sees a GPU, else the CPU."""
    if settings.VBG_DEVICE != "auto":
        return settings.VBG_DEVICE
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def compute_slot() -> Iterator[None]:
    """Hold one of the process's ``VBG_COMPUTE_SLOTS`` slots for CPU-heavy work (decode,
    segment, compose, encode of a photo; re-entrant within a thread). With threaded web
    workers this keeps the number of threads computing at once at workers x slots, however
    many requests are in flight: more would only share the same cores and each request
    would finish later."""
    global _slots
    if getattr(_held, "depth", 0):  # nested in this thread's own slot
        yield
        return
    if _slots is None:
        with _slots_lock:
            if _slots is None:
                _slots = threading.BoundedSemaphore(settings.VBG_COMPUTE_SLOTS)
    with _slots:
        _held.depth = 1
        _mark_compute()
        try:
            yield
        finally:
            _held.depth = 0
            _release_free_memory()


def compute_beside[T](function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
    """Start ``function(*args, **kwargs)`` on the process's side thread, beside the calling
    request's own work; its result (or exception) comes from the returned future.

    A photo composite has independent stages (the person detectors beside the model, the
    mask's PNG beside the compose, the thumbnail beside the result's encode); on a second
    core they overlap, so one composite finishes sooner. ``VBG_SIDE_THREADS`` threads per
    process (default 1; 0: everything runs in the caller, one stage after the other). The
    work is the same either way: under full load the cores are busy anyway and throughput
    does not change. Called from inside a ``compute_slot``, the task counts as part of
    that slot's work. Queued tasks start in order, after any share of
    :func:`compute_shared` (urgent: its caller is doing the same work meanwhile) and
    before any :class:`Later` (idle work).
    """
    return _submit(NORMAL, function, *args, **kwargs)


def _submit[T](urgency: int, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
    """``function`` queued on this process's side threads (``side_threads``) at ``urgency``,
    or run in line without any."""
    pool = _side_pool()
    if pool is not None:
        in_slot = getattr(_held, "depth", 0) > 0
        return pool.submit(urgency, _run_beside, in_slot, function, *args, **kwargs)
    return compute_inline(function, *args, **kwargs)


def _side_pool() -> PriorityPool | None:
    """This process's side threads (``VBG_SIDE_THREADS``; made on first use), or None."""
    global _beside
    pid = os.getpid()  # a pool's threads do not survive fork(): one pool per process
    if _beside is None or _beside[0] != pid:
        with _slots_lock:
            if _beside is None or _beside[0] != pid:
                # No thread in a process about to fork (fork_safe_warm_up): run in line.
                threads = 0 if _forking else settings.VBG_SIDE_THREADS
                pool = PriorityPool(threads, "compute-beside") if threads else None
                _beside = (pid, pool)
    return None if _forking else _beside[1]


def compute_inline[T](function: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
    """``function(*args, **kwargs)`` run now, in the caller, as a finished future: the
    same interface as :func:`compute_beside` for stages that must not overlap others."""
    done: Future[T] = Future()
    try:
        done.set_result(function(*args, **kwargs))
    except Exception as exc:  # delivered by result(), as from a thread
        done.set_exception(exc)
    return done


def compute_shared[T](work: Callable[[T], object], items: Iterable[T]) -> None:
    """``work(item)`` for every item, the items taken in turn by the caller and the side
    thread (:func:`compute_beside`), whichever is free: independent strips of one image
    are done on both cores when the second is idle, and all by the caller when the side
    thread is busy with other work (its share is then cancelled, never waited for). An
    exception from either is raised here, once both have stopped."""
    pending = iter(list(items))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                item = next(pending, _NO_ITEM)
            if item is _NO_ITEM:
                return
            work(item)

    side = _submit(URGENT, drain)
    try:
        drain()
    finally:
        if not side.cancel():
            side.result()


_NO_ITEM = object()


class Later[T]:
    """``function(*args, **kwargs)`` for a result wanted later in the request: run by the
    side thread when it has nothing more urgent queued (``side_threads.IDLE``), or by the
    first caller of :meth:`result` if it has not started by then (a queued call is taken
    back, never waited for: a side task may ask for it too). Once only."""

    def __init__(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> None:
        self._call: Callable[[], T] | None = lambda: function(*args, **kwargs)
        self._lock = threading.Lock()
        self._value: Future[T] | None = None
        if _side_pool() is not None:
            self._value = _submit(IDLE, self._call)

    def result(self) -> T:
        with self._lock:
            value = self._value
            if value is None or value.cancel():
                value = self._value = compute_inline(self._call)  # type: ignore[arg-type]
            self._call = None  # the arguments go once the value exists or is being made
        return value.result()


def _run_beside[T](in_slot: bool, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """On the side thread: the task belongs to a request that holds a compute slot
    (``in_slot``), so a ``compute_slot`` inside it passes through instead of waiting for
    that very slot (which the request would hold while waiting for this task: deadlock)."""
    _held.depth = 1 if in_slot else 0
    try:
        return function(*args, **kwargs)
    finally:
        _held.depth = 0


def _release_free_memory() -> None:
    """Once the process has computed nothing for ``_IDLE_TRIM`` seconds, give the heap's
    free pages back to the kernel (glibc ``malloc_trim``), from a daemon thread, when its
    private memory grew by more than a working set since the last trim
    (``heap.IdleTrim``).

    A threaded worker's malloc arenas keep their high-water mark: measured 260-290 MB
    private per worker after 200 composites, about 150 MB once trimmed. Trimming after
    every composite instead costs the next one its working set's page faults again
    (measured +40-90 ms), so it waits for a pause; and it leaves a heap alone whose free
    pages are only that working set, so the first composite after a pause (or after a
    worker's start and warm-up) finds them.
    """
    global _trimmer
    _mark_compute()
    if not heap.can_trim() or _trimmer is not None:
        return
    with _slots_lock:
        if _trimmer is None:
            _trimmer = threading.Thread(target=_trim_when_idle, name="malloc-trim", daemon=True)
            _trimmer.start()


def _mark_compute() -> None:
    global _last_compute
    _last_compute = time.monotonic()


def _trim_when_idle() -> None:
    trimmed_at = 0.0
    while True:
        time.sleep(_IDLE_TRIM)
        idle = time.monotonic() - _last_compute
        # (A long composite may be running: trimming only returns free pages, safely.)
        if idle >= _IDLE_TRIM and _last_compute > trimmed_at:
            trimmed_at = time.monotonic()
            _idle_trim()


def get_engine(model: str | None = None) -> Engine:
    """The engine for ``model`` (default ``settings.VBG_SEGMENTER``), configured from settings
    and loaded once per process (lazily, under the package's lock)."""
    _configure()
    try:
        return Engine(get_segmenter(model or settings.VBG_SEGMENTER))
    except (WeightsMissing, WeightsError, UnknownSegmenter) as exc:
        logger.error("segmentation model unavailable: %s", exc)
        raise ModelUnavailable() from exc


def warm_up(model: str | None = None) -> Engine:
    """Load ``model`` (default ``settings.VBG_SEGMENTER``) and run each code path a photo
    takes once, at the sizes the site sees most (a portrait and a 16:9 frame).

    Called by the gunicorn config in the master process, after the app is loaded and
    before the workers fork: torch, the weights, the traced networks and the kernel
    caches are then built once and shared by every worker (copy-on-write) instead of
    being loaded into each worker on its first request. Never called at import time.
    Raises ModelUnavailable (logged) when the model cannot be loaded.
    """
    engine = get_engine(model)
    engine.segmenter.warm_up()
    _warm_photo_path()
    return engine


def _synthetic_portrait(size: tuple[int, int]) -> tuple[Image.Image, np.ndarray]:
    """A grey picture of ``size`` (W, H) with a bright soft-edged disc, and its alpha."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    disc = np.hypot((xs - width / 2) / (0.3 * width), (ys - height / 2) / (0.35 * height))
    alpha = np.clip((1.1 - disc) * 8.0, 0.0, 1.0).astype(np.float32)
    return Image.fromarray(np.dstack([(alpha * 200 + 30).astype(np.uint8)] * 3), "RGB"), alpha


def worker_warm_up(size: tuple[int, int] = (864, 1152)) -> None:
    """In a forked web worker, before its first request (gunicorn's ``post_worker_init``):
    the photo path once more, the detectors on the side thread as a composite runs them.
    The pages the worker writes to (torch's buffers, the traced graphs' state) are copied
    from the master now, not during someone's composite: measured, a worker's first
    composite took 2.8x a warm one without this. What the worker then holds is its working
    set: the idle trim keeps it (``heap.IdleTrim``). Does nothing when the model was not
    preloaded; failures are logged (the first request will then be slower, not wrong).
    """
    if _threads_override is None:
        return
    try:
        engine = get_engine()
        picture, _ = _synthetic_portrait(size)
        detectors = compute_beside(get_person_detector().evidence, picture)
        engine.segmenter.warm_up((size,))
        detectors.result()
        engine.segment_matte(picture, shared=True)  # the side thread's share of the model
        _warm_photo_path(size)
        _idle_trim.keep_now()  # the pause before the first request leaves its pages alone
    except Exception:  # a worker that serves slower beats one that does not start
        logger.exception("worker warm-up failed")


def _warm_photo_path(size: tuple[int, int] = (864, 1152)) -> None:
    """The rest of a photo composite once, on a synthetic portrait: both person detectors
    (their frozen traces are built on first use: ~0.4 s), the compose with decontamination,
    the mask PNG, the JPEG encode and the thumbnail (OpenCV's and Pillow's lazily loaded
    parts). Skipped quietly when the detectors' weights are missing (composites answer 503
    then anyway)."""
    picture, alpha = _synthetic_portrait(size)
    try:
        get_person_detector().evidence(picture)
    except (WeightsMissing, WeightsError) as exc:
        logger.warning("person detectors not warmed: %s", exc)
    # Shared with the side thread as a composite does (in line in a process about to fork).
    result = compose_image(
        picture, alpha, mode="color", color=(20, 120, 200), runner=compute_shared
    )
    alpha_to_png(alpha)
    encode_image(result, "jpg")
    make_thumbnail(result, 480, fmt="jpg")
    _warm_background_path(size)


# A library background's size (the built-in ones are 1920x1080).
_WARM_BACKGROUND = (1920, 1080)


def _warm_background_path(size: tuple[int, int]) -> None:
    """A library background's first use in a process, once: its JPEG decoded as a stored
    background is, and covered to ``size`` (an enlargement, OpenCV's cubic) and to a
    smaller frame (a reduction, Pillow's Lanczos). Measured in a fresh process: the first
    decode of a 1920x1080 background took 30 ms and the first cover 11.5 ms, against 9.5
    and 3.9 ms after (Pillow's and OpenCV's lazily loaded parts)."""
    stored = encode_image(_synthetic_portrait(_WARM_BACKGROUND)[0], "jpg")
    pixels = _WARM_BACKGROUND[0] * _WARM_BACKGROUND[1]
    background = load_image_pixels(stored, max_pixels=pixels, min_side=1).rgb()
    for frame in (size, (size[0] // 2, size[1] // 3)):
        background_canvas(background, frame, Placement())


def fork_safe_warm_up(*, log: logging.Logger = logger) -> None:
    """:func:`warm_up` in a process about to fork its workers (the gunicorn master).

    torch runs one intra-op thread here (see ``_FORK_SAFE_THREADS``); each worker sets its
    own count in :func:`worker_started`. A CUDA context cannot cross fork() either: with a
    GPU the workers load the model on their first request. Failures are logged, not
    raised: the site serves everything else and composites answer 503 until fixed.
    """
    global _threads_override
    if device_name() != "cpu":
        log.info("model not preloaded: device %s is initialised in each worker", device_name())
        return
    import cv2
    import torch

    global _forking
    _threads_override = _FORK_SAFE_THREADS
    _forking = True
    torch.set_num_threads(_FORK_SAFE_THREADS)
    cv2.setNumThreads(1)  # OpenCV's pthreads pool would not survive fork() either
    try:
        engine = warm_up()
    except ModelUnavailable:
        log.error("model not preloaded: it is unavailable (see above)")
        return
    log.info("model %s loaded and warmed before fork", engine.model_name)


def worker_started() -> None:
    """In a forked web worker: its own database connections (none inherited) and torch's
    thread count for this worker (``VBG_TORCH_THREADS``; 0 means one per worker, as the
    CPU-heavy work is bounded by :func:`compute_slot`)."""
    global _forking
    connections.close_all()
    _forking = False
    if _threads_override is not None:
        import torch

        torch.set_num_threads(settings.VBG_TORCH_THREADS or 1)


def get_frame_segmenter(model: str | None = None) -> FrameSegmenter:
    """The network of ``model`` (default ``settings.VBG_SEGMENTER``) for the video pipeline
    (:func:`compositing.video.composite_video`): configured from settings like
    :func:`get_engine`, loaded once per process, and torch set to
    ``VIDEO_TORCH_THREADS`` intra-op threads for the process from now on.

    Raises ModelUnavailable (logged) when the model cannot be loaded.
    """
    _configure()
    try:
        return frame_segmenter(model or settings.VBG_SEGMENTER, threads=VIDEO_TORCH_THREADS)
    except SegmentationError as exc:
        logger.error("segmentation model unavailable: %s", exc)
        raise ModelUnavailable() from exc


def person_in_photo(image: Image.Image | np.ndarray) -> bool:
    """Whether the photo (RGB, or its uint8 HxWx3 pixels) shows a person, from MediaPipe's
    person and face detectors (:func:`compositing.segmentation.person_detector.person_present`;
    the selfie mask alone paints cats and coins as people). Configured like :func:`get_engine`.

    Raises ModelUnavailable (logged) when the detectors' weights are missing.
    """
    _configure()
    try:
        detector = get_person_detector()
    except (WeightsMissing, WeightsError) as exc:
        logger.error("person detector unavailable: %s", exc)
        raise ModelUnavailable() from exc
    with compute_slot():
        return detector.present(image)  # the face first; the person detector if needed
