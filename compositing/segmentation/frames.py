"""A segmenter as the video pipeline sees it: batches of small frames at network resolution.

The video pipeline (:mod:`compositing.video`) never touches torch: it asks a
:class:`FrameSegmenter` which input size the network wants for its frames, resizes each
upright frame to it while decoding, and gets back the network's person probability, which it
smooths over time and refines to full resolution on its own (on the frame's luma plane).
:class:`SegmenterFrames` is that view of any :class:`~.segmenter.Segmenter`; the conversion
between numpy and torch happens here and nowhere else (zero-copy both ways).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .registry import get_segmenter
from .segmenter import Segmenter


class FrameSegmenter(Protocol):
    """The network, at its own resolution, for a stream of frames.

    ``network_size(width, height)`` -> (height, width) of the input the network wants for an
    *upright* frame of that size (the landscape network for wide frames). ``__call__`` takes
    uint8 Nxhxwx3 RGB (upright, already resized to that size) and returns float32 Nxhxw
    person probabilities in 0..1. ``name`` is recorded on the composite.
    """

    name: str

    def network_size(self, width: int, height: int) -> tuple[int, int]: ...

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class SegmenterFrames:
    """:class:`FrameSegmenter` over a loaded :class:`Segmenter` (its ``network_size`` and
    network-resolution ``probability``, one frame at a time)."""

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter
        self.name: str = segmenter.name

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(height, width) of the network input for an upright ``width`` x ``height`` frame."""
        return self.segmenter.network_size(width, height)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """uint8 Nxhxwx3 RGB at :meth:`network_size` -> float32 Nxhxw probabilities in 0..1."""
        import torch  # loaded with the model already; kept out of this module's import

        results = [self.segmenter.probability(torch.from_numpy(frame)).numpy() for frame in batch]
        return np.stack(results).astype(np.float32, copy=False)


def frame_segmenter(model: str | None = None, *, threads: int | None = None) -> SegmenterFrames:
    """The segmenter ``model`` (default: the configured one) as a :class:`FrameSegmenter`,
    loaded lazily, once per process.

    threads: torch's intra-op thread count for the whole process from now on (None: leave
    it as :func:`~.registry.configure` set it). Raises the package's SegmentationError
    subclasses (unknown name, missing or broken weights).
    """
    segmenter = get_segmenter(model)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return SegmenterFrames(segmenter)
