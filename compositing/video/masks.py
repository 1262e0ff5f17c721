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

from .crop import Box, BoxTracker, CropOptions, crop_rgb, person_box
from .frames import colour_matrix, decode_loop
from .motion import MotionSmoother
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


@dataclass(frozen=True)
class MaskOptions:
    """How the mask path works. ``second_pass``: run the network again on a tracked crop
    around a small person (:mod:`.crop`); ``crop``: its settings; ``flow``: follow the
    picture's motion when smoothing the crop's probability over time (:mod:`.motion`);
    ``strength``/``motion``: that smoothing (:func:`.temporal.gated_blend`); ``low``/``high``:
    the crop's refined alpha snaps below ``low`` to 0 and above ``high`` to 1; ``mirrored``:
    the crop's probability is the mean of the network on the crop and on its mirror image.

    Defaults tuned on ``../shared/data/video-dev`` (``manage.py evaluate_segmenter --video``):
    the optical flow gave the same J with more flicker there, so it is off; snapping cut
    flicker by a tenth at the same J; the mirrored second look added J +0.004, F +0.006 and
    cut flicker 7 % for one more network call per frame.
    """

    second_pass: bool = True
    crop: CropOptions = field(default_factory=CropOptions)
    flow: bool = False
    strength: float = 0.9
    motion: float = 0.5
    low: float = 0.3
    high: float = 0.7
    mirrored: bool = True


class FrameMasker:
    """The per-frame mask path: the network on batches of small frames, then per frame the
    temporal step, the second pass on a tracked crop around a small person, and the
    refinement on the frame's luma plane.

    matrix: the decoded planes' colour matrix ("bt709"/"bt601"). smoother: temporal
    smoothing (None: off) of the whole frame's probability; the crop's own probability is
    smoothed along the optical flow when a smoother is given. ``timings`` accumulates wall
    seconds per stage ("segment", "refine").
    """

    def __init__(
        self,
        *,
        segmenter: FrameSegmenter,
        rotation: int,
        matrix: str,
        smoother: TemporalSmoother | None,
        on_alpha: Callable[[np.ndarray], None] | None = None,
        options: MaskOptions | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        self.segmenter = segmenter
        self.rotation = rotation
        self.matrix = matrix
        self.smoother = smoother
        self.on_alpha = on_alpha
        self.options = options or MaskOptions()
        self.timings = timings if timings is not None else {"segment": 0.0, "refine": 0.0}
        self._tracker: BoxTracker | None = None
        self._motion = (
            MotionSmoother(
                flow=self.options.flow, strength=self.options.strength, motion=self.options.motion
            )
            if smoother is not None
            else None
        )

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
        box = self._crop_box(stored, luma.size) if self.options.second_pass else None
        if box is None:
            if self._motion is not None:
                self._motion.reset()
            mask = refine_mask(luma, stored, GUIDE_EPS)
        else:
            mask = self._second_pass(frame, luma, box)
        self.timings["refine"] += time.perf_counter() - t0
        return FrameMask(mask, stored)

    def _crop_box(self, stored: np.ndarray, size: tuple[int, int]) -> Box | None:
        if self._tracker is None:
            self._tracker = BoxTracker(*size, self.options.crop)
        return self._tracker.update(person_box(stored, *size, self.options.crop))

    def _second_pass(self, frame: Decoded, luma: Image.Image, box: Box) -> Image.Image:
        """The mask of ``frame``: the network on the crop ``box``, smoothed along the
        motion, refined on the crop's luma; background outside the box."""
        t0 = time.perf_counter()
        turns = self.rotation // 90
        crop_w, crop_h = box[2] - box[0], box[3] - box[1]
        upright = (crop_h, crop_w) if turns % 2 else (crop_w, crop_h)
        net_h, net_w = self.segmenter.network_size(*upright)
        stored_size = (net_w, net_h) if turns % 2 else (net_h, net_w)
        rgb = crop_rgb(frame.planes, box, stored_size, self.matrix)
        network_rgb = np.ascontiguousarray(np.rot90(rgb, k=turns)) if turns else rgb
        if self.options.mirrored:
            pair = self.segmenter(np.stack([network_rgb, network_rgb[:, ::-1]]))
            probability = (pair[0] + pair[1][:, ::-1]) * np.float32(0.5)
        else:
            probability = self.segmenter(network_rgb[None])[0]
        if turns:
            probability = np.ascontiguousarray(np.rot90(probability, k=-turns))
        self.timings["segment"] += time.perf_counter() - t0
        if self._motion is not None:
            grey = np.asarray(Image.fromarray(rgb).convert("L"))
            probability = self._motion(probability, grey, box)
        options = self.options
        crop_mask = refine_mask(
            luma.crop(box), probability, GUIDE_EPS, low=options.low, high=options.high
        )
        mask = Image.new("L", luma.size, 0)
        mask.paste(crop_mask, box[:2])
        return mask


def video_masks(
    source: str | Path,
    *,
    segmenter: FrameSegmenter,
    smoothing: bool = True,
    options: MaskOptions | None = None,
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
    container = open_input(source)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        video = video_stream(container)
        video.thread_type = "AUTO"
        matrix = colour_matrix(video, size[1])
        masker = FrameMasker(
            segmenter=segmenter,
            rotation=info.rotation,
            matrix=matrix,
            smoother=TemporalSmoother() if smoothing else None,
            options=options,
        )
        decoded = Pipe(max(4, 2 * batch), stop)
        thread = threading.Thread(
            target=decode_loop,
            args=(container, video, None, decoded),
            kwargs={
                "size": size,
                "rotation": info.rotation,
                "net_size": segmenter.network_size(shown_w, shown_h),
                "matrix": matrix,
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
