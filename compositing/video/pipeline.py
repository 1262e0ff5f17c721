"""The orchestration: :func:`composite_video` runs decode -> segment -> smooth -> refine ->
compose -> encode over three threads (decode, main, encode) joined by bounded pipes.

The main thread runs the network on a batch of small frames, smooths the probability over
time (:mod:`.temporal`), refines it to full resolution on the frame's luma (:mod:`.refine`)
and blends the planes (:mod:`.planes`); decoding (:mod:`.frames`) and encoding
(:mod:`.encode`) run beside it. A run writes a local file; the caller publishes it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from compositing.segmentation.frames import FrameSegmenter
from vbgsite.errors import InvalidVideo

from .encode import Encoder, check_output, encode_loop
from .frames import colour_matrix, decode_loop
from .masks import FrameMasker, MaskOptions
from .pipes import END, Decoded, Failure, Packet, Pipe, batches
from .planes import BackgroundPlan, compose_planes, make_background
from .probe import VideoInfo, open_input, output_size, probe_video, video_stream
from .temporal import TemporalSmoother

# Pillow's cache of freed image blocks (see _keep_image_blocks).
_PILLOW_BLOCKS = 32

ProgressCallback = Callable[[int, int, float | None], None]
CancelCheck = Callable[[], bool]
Planes = tuple[np.ndarray, ...]  # Y, Cb, Cr (and the alpha, for transparent outputs)


class VideoCancelled(Exception):
    """The cancel check returned True; the partial output must be discarded."""


@dataclass
class VideoResult:
    """What :func:`composite_video` wrote. Times in seconds."""

    frames: int
    width: int
    height: int
    rotation: int
    fps: Fraction
    duration: float
    audio: str | None  # "copied", "aac" (re-encoded) or None
    model_name: str
    seconds: float
    # Seconds: wall time of the main thread's stages ("segment", "refine", "compose", and
    # "wait" for decoded frames), its CPU time ("main_cpu") and the whole process's CPU
    # time ("process_cpu", decoding and encoding threads included).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def fps_processed(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def fps_on_idle_cores(self, cores: int = 2) -> float:
        """Frames per second this run's CPU work allows on ``cores`` idle cores: the main
        thread's serial work, or the whole process's work spread over the cores, whichever
        is longer. An estimate for a busy machine, where wall time is shared with others."""
        main, total = self.timings.get("main_cpu"), self.timings.get("process_cpu")
        if not main or not total:
            return 0.0
        return self.frames / max(main, total / cores)


@dataclass(frozen=True)
class Encoding:
    """libx264 settings: ``preset`` (speed/size trade-off), ``crf`` (quality), threads;
    ``output_format``: "mp4", or "webm"/"mov" with alpha (:data:`.encode.OUTPUT_FORMATS`)."""

    preset: str = "superfast"
    crf: int = 20
    threads: int = 2
    output_format: str = "mp4"


def composite_video(
    source: str | Path,
    output: str | Path,
    *,
    segmenter: FrameSegmenter,
    mode: str,
    background: np.ndarray | None = None,
    color: tuple[int, int, int] | None = None,
    blur_radius: float | None = None,
    max_side: int = 1920,
    smoother: TemporalSmoother | None = None,
    smoothing: bool = True,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    preset: str = "superfast",
    crf: int = 20,
    encoder_threads: int = 2,
    output_format: str = "mp4",
    batch: int = 2,
    on_alpha: Callable[[np.ndarray], None] | None = None,
    mask_options: MaskOptions | None = None,
) -> VideoResult:
    """Composite every frame of ``source`` onto a new background, writing H.264 MP4 ``output``.

    source: a local video file (MP4/MOV/WebM/MKV). output: a local path (written from
    scratch; the caller moves it into storage once this returns, so a partial file is
    never published). mode: "image" (``background`` uint8 HxWx3 RGB, any size, covered),
    "color" (``color`` (r, g, b)), "blur" (``blur_radius`` sigma in pixels, default 1.5 %
    of the long side). max_side: frames larger than this (long side, pixels) are scaled
    down. smoothing: temporal smoothing of the mask (``smoother`` to tune it).
    progress(frames_done, frames_total, eta_seconds) is called after every frame (cheap;
    throttle in the callback). should_cancel() is checked after every frame; True raises
    VideoCancelled. on_alpha(probability) receives each smoothed network-resolution
    probability (float32 hxw, upright), for measurements. segmenter: the network (see
    :class:`compositing.segmentation.FrameSegmenter`); batch: frames per network call.
    mask_options: the mask path's settings (:class:`.masks.MaskOptions`; default: tuned ones).
    output_format: "mp4" (H.264), or with mode "transparent" "webm" (VP9 with alpha) or
    "mov" (ProRes 4444 with alpha).

    Raises InvalidVideo (unreadable input), InvalidOption (bad mode/background),
    VideoCancelled.
    """
    started = time.perf_counter()
    _keep_image_blocks()
    info = probe_video(source)
    size = output_size(info.width, info.height, max_side)
    shown_w, shown_h = (size[1], size[0]) if info.rotation % 180 else size
    net_size = segmenter.network_size(shown_w, shown_h)
    run = _Run.open(source, info=info, size=size, batch=batch)
    steps = _FrameSteps(
        segmenter=segmenter,
        rotation=info.rotation,
        matrix=run.matrix,
        smoother=(smoother or TemporalSmoother()) if smoothing else None,
        on_alpha=on_alpha,
        options=mask_options,
    )
    check_output(mode=mode, output_format=output_format)
    try:
        plan = make_background(
            mode=mode,
            background=background,
            color=color,
            blur_radius=blur_radius,
            size=size,
            rotation=info.rotation,
            matrix=run.matrix,
        )
        encoding = Encoding(preset, crf, encoder_threads, output_format)
        run.start(output, net_size=net_size, encoding=encoding)
        tracker = _Tracker(started, max(1, info.frames), progress, should_cancel)
        process_cpu, main_cpu = _process_cpu(), time.thread_time()
        _composite_frames(run, steps, plan, batch=batch, tracker=tracker)
        _check_frame_count(tracker.done, info)
        audio_mode = run.finish()
        steps.timings["main_cpu"] = time.thread_time() - main_cpu
        steps.timings["process_cpu"] = _process_cpu() - process_cpu
    finally:
        run.close()
    return VideoResult(
        frames=tracker.done,
        width=size[0],
        height=size[1],
        rotation=info.rotation,
        fps=info.fps,
        duration=info.duration if info.duration else float(tracker.done / info.fps),
        audio=audio_mode,
        model_name=getattr(segmenter, "name", ""),
        seconds=time.perf_counter() - started,
        timings=steps.timings,
    )


class _FrameSteps:
    """The main thread's work on frames: the mask path (:class:`.masks.FrameMasker`: network,
    temporal step, refinement), then the blend.

    ``timings`` accumulates wall seconds per stage ("segment", "refine", "compose", "wait").
    """

    def __init__(
        self,
        *,
        segmenter: FrameSegmenter,
        rotation: int,
        matrix: str,
        smoother: TemporalSmoother | None,
        on_alpha: Callable[[np.ndarray], None] | None,
        options: MaskOptions | None,
    ) -> None:
        self.timings = {"segment": 0.0, "refine": 0.0, "compose": 0.0, "wait": 0.0}
        self.masker = FrameMasker(
            segmenter=segmenter,
            rotation=rotation,
            matrix=matrix,
            smoother=smoother,
            on_alpha=on_alpha,
            options=options,
            timings=self.timings,
        )

    def probabilities(self, frames: list[Decoded]) -> np.ndarray:
        """float32 Nxhxw person probabilities of the frames' small upright copies."""
        return self.masker.probabilities(frames)

    def composite(self, frame: Decoded, probability: np.ndarray, plan: BackgroundPlan) -> Planes:
        """The composited Y, Cb, Cr planes of ``frame`` (stored orientation, output size)."""
        result = self.masker.mask(frame, probability)
        t0 = time.perf_counter()
        planes = compose_planes(frame.planes, result.mask, result.probability, plan)
        self.timings["compose"] += time.perf_counter() - t0
        return planes


class _Tracker:
    """Frames done, progress reports (with an ETA) and the cancel check, after every frame."""

    def __init__(
        self,
        started: float,
        frames_total: int,
        progress: ProgressCallback | None,
        should_cancel: CancelCheck | None,
    ) -> None:
        self.started = started
        self.frames_total = frames_total
        self.progress = progress
        self.should_cancel = should_cancel
        self.done = 0

    def frame_done(self) -> None:
        """Count a frame, report progress, raise VideoCancelled when asked to stop."""
        self.done += 1
        if self.done > self.frames_total:
            self.frames_total = self.done
        if self.progress is not None:
            elapsed = time.perf_counter() - self.started
            eta = elapsed / self.done * (self.frames_total - self.done)
            self.progress(self.done, self.frames_total, eta)
        if self.should_cancel is not None and self.should_cancel():
            raise VideoCancelled()


def _composite_frames(
    run: _Run, steps: _FrameSteps, plan: BackgroundPlan, *, batch: int, tracker: _Tracker
) -> None:
    """Main thread: batches of decoded frames through the network and the frame steps to
    the encoder; audio packets are forwarded in order."""
    waited = time.perf_counter()
    for items in batches(run.decoded, batch):
        steps.timings["wait"] += time.perf_counter() - waited
        frames: list[Decoded] = []
        for item in items:
            if isinstance(item, Failure):
                raise item.error
            if isinstance(item, Packet):
                run.send(item)
            else:
                frames.append(item)
        if not frames:
            continue
        probabilities = steps.probabilities(frames)
        for frame, probability in zip(frames, probabilities, strict=True):
            planes = steps.composite(frame, probability, plan)
            run.send((planes, frame.pts, frame.duration))
            tracker.frame_done()
        waited = time.perf_counter()


def _check_frame_count(done: int, info: VideoInfo) -> None:
    """InvalidVideo when no frame, or clearly fewer than the container promised, decoded."""
    if done == 0:
        raise InvalidVideo("This video has no frames we can decode.")
    if info.frames_exact and done < 0.95 * info.frames - 1:
        raise InvalidVideo(
            f"This video is truncated or damaged: only {done} of its {info.frames} frames "
            "could be decoded."
        )


class _Run:
    """One run's input container, output encoder, the decode and encode threads and the
    pipes between them. :meth:`close` always runs: it stops the threads and, unless the
    output was finished, aborts it."""

    def __init__(self, container: Any, *, info: VideoInfo, size: tuple[int, int], batch: int):
        self.container = container
        self.info = info
        self.size = size
        self.video = video_stream(container)
        self.video.thread_type = "AUTO"
        self.audio = container.streams.audio[0] if container.streams.audio else None
        self.matrix = colour_matrix(self.video, size[1])
        self.stop = threading.Event()
        self.decoded = Pipe(max(4, 2 * batch), self.stop)
        self.composited = Pipe(6, self.stop)
        self.failures: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.encoder: Encoder | None = None
        self.finished = False

    @classmethod
    def open(
        cls, source: str | Path, *, info: VideoInfo, size: tuple[int, int], batch: int
    ) -> _Run:
        """Open ``source`` and find its streams (the container is closed on failure)."""
        container = open_input(source)
        try:
            return cls(container, info=info, size=size, batch=batch)
        except BaseException:
            container.close()
            raise

    def start(self, output: str | Path, *, net_size: tuple[int, int], encoding: Encoding) -> None:
        """Create the output and start the decode and encode threads."""
        self.encoder = Encoder(
            output,
            source_video=self.video,
            source_audio=self.audio,
            size=self.size,
            fps=self.info.fps,
            display_matrix=self.info.display_matrix,
            matrix=self.matrix,
            preset=encoding.preset,
            crf=encoding.crf,
            threads=encoding.threads,
            output_format=encoding.output_format,
        )
        decode_options = {
            "size": self.size,
            "rotation": self.info.rotation,
            "net_size": net_size,
            "matrix": self.matrix,
        }
        self.threads = [
            threading.Thread(
                target=decode_loop,
                args=(self.container, self.video, self.audio, self.decoded),
                kwargs=decode_options,
                name="video-decode",
                daemon=True,
            ),
            threading.Thread(
                target=encode_loop,
                args=(self.encoder, self.composited, self.failures),
                name="video-encode",
                daemon=True,
            ),
        ]
        for thread in self.threads:
            thread.start()

    def send(self, item: object) -> None:
        """Hand ``item`` to the encode thread; re-raises the encoder's failure, if any."""
        if self.failures:
            raise self.failures[0]
        if not self.composited.put(item):
            raise self.failures[0] if self.failures else RuntimeError("the encoder stopped early")

    def finish(self) -> str | None:
        """Drain the encoder and close the output; returns its audio mode."""
        assert self.encoder is not None
        if not self.composited.put(END):
            raise RuntimeError("the encoder stopped early")
        self.threads[1].join()
        if self.failures:
            raise self.failures[0]
        self.encoder.finish()
        self.finished = True
        return self.encoder.audio_mode

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        if self.encoder is not None and not self.finished:
            self.encoder.abort()
        self.container.close()


def _keep_image_blocks() -> None:
    """Let Pillow reuse freed image memory instead of returning it to the OS each time.

    Every full-resolution intermediate (masks, upsampled maps) is a fresh allocation;
    without a cache each one page-faults its memory in again, which doubled the refine
    step's time here (15 ms -> 7 ms at 720p). Process-wide and bounded (a few frames'
    worth of blocks), so memory stays flat.
    """
    if Image.core.get_blocks_max() < _PILLOW_BLOCKS:
        Image.core.set_blocks_max(_PILLOW_BLOCKS)


def _process_cpu() -> float:
    """CPU seconds of the whole process (all threads, FFmpeg's own included)."""
    times = os.times()
    return times.user + times.system
