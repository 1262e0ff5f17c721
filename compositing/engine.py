"""Django-side glue for the segmentation engine (``compositing.segmentation``).

The segmentation package knows nothing about Django; this module feeds it the settings
(``VBG_MODEL_DIR``, ``VBG_SEGMENTER``, ``VBG_TORCH_THREADS``) on first use and turns the
engine's failures into the errors views and the API already map: missing/unconvertible
weights or a misconfigured model name → ``ModelUnavailable`` (503), an image the engine
cannot read → ``InvalidImage`` (400). Nothing loads at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from compositing.segmentation import (
    FrameSegmenter,
    SegmentationError,
    Segmenter,
    UnknownSegmenter,
    WeightsError,
    WeightsMissing,
    configure,
    frame_segmenter,
    get_segmenter,
)
from vbgsite.errors import InvalidImage, ModelUnavailable

logger = logging.getLogger(__name__)

# torch's intra-op threads for video. One is right: decoding and encoding keep the other
# core busy, and on two cores a 2-thread network call waits for a core and spins (measured:
# 4 fps instead of 34 on a loaded machine). The task worker runs one job at a time, so this
# is its setting; a web process never runs videos.
VIDEO_TORCH_THREADS = 1


@dataclass(frozen=True)
class Engine:
    """A loaded segmenter; ``model_name`` is what a Composite records."""

    segmenter: Segmenter

    @property
    def model_name(self) -> str:
        return self.segmenter.name

    def segment(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """Person alpha, float32 HxW in 0..1 at the image's resolution (all zeros: no person)."""
        try:
            return self.segmenter.segment(image)
        except (WeightsMissing, WeightsError) as exc:
            logger.error("segmentation model unavailable: %s", exc)
            raise ModelUnavailable() from exc
        except SegmentationError as exc:
            raise InvalidImage(f"This image cannot be segmented: {exc}") from exc


def _configure() -> None:
    configure(model_dir=settings.VBG_MODEL_DIR, threads=settings.VBG_TORCH_THREADS)


def get_engine(model: str | None = None) -> Engine:
    """The engine for ``model`` (default ``settings.VBG_SEGMENTER``), configured from settings
    and loaded once per process (lazily, under the package's lock)."""
    _configure()
    try:
        return Engine(get_segmenter(model or settings.VBG_SEGMENTER))
    except (WeightsMissing, WeightsError, UnknownSegmenter) as exc:
        logger.error("segmentation model unavailable: %s", exc)
        raise ModelUnavailable() from exc


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
