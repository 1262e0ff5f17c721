"""The mask path of a video job: network -> temporal step -> full-resolution refinement.

:class:`FrameMasker` is the main thread's per-frame work before the blend; the pipeline
(:func:`compositing.video.composite_video`) composites with its masks and
:func:`video_masks` yields them for a file without compositing or encoding (the same
code, for measurements such as ``manage.py evaluate_segmenter --video``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from compositing.segmentation.frames import FrameSegmenter

from .frames import colour_matrix, decode_loop
from .pipes import Decoded, Failure, Packet, Pipe, batches
from .probe import open_input, output_size, probe_video, video_stream
from .refine import GUIDE_EPS, refine_mask
from .temporal import TemporalSmoother


@dataclass
class FrameMask:
    """One frame's mask: ``mask`` L image (0..255, output size, stored orientation) and the
    coarse person ``probability`` (float32 hxw, stored orientation) it came from."""

    mask: Image.Image
    probability: np.ndarray


@dataclass
class FrameMasker:
    """The per-frame mask path: the network on batches of small frames, then per frame the
    temporal step and the refinement on the frame's luma plane.

    ``timings`` accumulates wall seconds per stage ("segment", "refine").
    """

    segmenter: FrameSegmenter
    rotation: int
    smoother: TemporalSmoother | None
    on_alpha: Callable[[np.ndarray], None] | None = None
    timings: dict[str, float] = field(default_factory=lambda: {"segment": 0.0, "refine": 0.0})

    def probabilities(self, frames: list[Decoded]) -> np.ndarray:
        """float32 Nxhxw person probabilities of the frames' small upright copies."""
        t0 = time.perf_counter()
        probabilities = self.segmenter(np.stack([f.small for f in frames]))
        self.timings["segment"] += time.perf_counter() - t0
        return probabilities

    def mask(self, frame: Decoded, probability: np.ndarray) -> FrameMask:
        """The full-resolution mask of ``frame`` from its network ``probability`` (upright)."""
        t0 = time.perf_counter()
        if self.smoother is not None:
            probability = self.smoother(probability)
        if self.on_alpha is not None:
            self.on_alpha(probability)
        rotation = self.rotation
        stored = np.rot90(probability, k=-(rotation // 90)) if rotation else probability
        luma = Image.fromarray(frame.planes[0], "L")
        mask = refine_mask(luma, stored, GUIDE_EPS)
        self.timings["refine"] += time.perf_counter() - t0
        return FrameMask(mask, stored)


def video_masks(
    source: str | Path,
    *,
    segmenter: FrameSegmenter,
    smoothing: bool = True,
    max_side: int = 1920,
    batch: int = 2,
) -> Iterator[np.ndarray]:
    """The masks a video job would composite with, frame by frame: uint8 HxW (0..255, output
    size, stored orientation). Decoding runs in its own thread, as in a job.

    Raises InvalidVideo (unreadable input).
    """
    info = probe_video(source)
    size = output_size(info.width, info.height, max_side)
    shown_w, shown_h = (size[1], size[0]) if info.rotation % 180 else size
    masker = FrameMasker(
        segmenter=segmenter,
        rotation=info.rotation,
        smoother=TemporalSmoother() if smoothing else None,
    )
    container = open_input(source)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        video = video_stream(container)
        video.thread_type = "AUTO"
        decoded = Pipe(max(4, 2 * batch), stop)
        thread = threading.Thread(
            target=decode_loop,
            args=(container, video, None, decoded),
            kwargs={
                "size": size,
                "rotation": info.rotation,
                "net_size": segmenter.network_size(shown_w, shown_h),
                "matrix": colour_matrix(video, size[1]),
            },
            name="video-masks-decode",
            daemon=True,
        )
        thread.start()
        for items in batches(decoded, batch):
            frames = [item for item in items if not isinstance(item, Packet)]
            for item in frames:
                if isinstance(item, Failure):
                    raise item.error
            probabilities = masker.probabilities(frames)
            for frame, probability in zip(frames, probabilities, strict=True):
                yield np.asarray(masker.mask(frame, probability).mask)
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=10)
        container.close()
