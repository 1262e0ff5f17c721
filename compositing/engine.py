"""Django-side glue for the segmentation engine (``compositing.segmentation``).

The segmentation package knows nothing about Django; this module feeds it the settings
(``VBG_MODEL_DIR``, ``VBG_SEGMENTER``, ``VBG_TORCH_THREADS``) on first use and turns the
engine's failures into the compositing errors views and the API already map:
missing/unconvertible weights or a misconfigured model name → ``ModelUnavailable`` (503),
an image the engine cannot read → ``InvalidImage`` (400). Nothing loads at import time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from django.conf import settings
from PIL import Image

from vbgsite.errors import InvalidImage, ModelUnavailable

if TYPE_CHECKING:
    from compositing.segmentation import Segmenter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Engine:
    """A loaded segmenter; ``model_name`` is what a Composite records."""

    segmenter: Segmenter

    @property
    def model_name(self) -> str:
        return self.segmenter.name

    def segment(
        self, image: Image.Image | np.ndarray, *, previous: np.ndarray | None = None
    ) -> np.ndarray:
        """Person alpha, float32 HxW in 0..1 at the image's resolution (all zeros: no person)."""
        from compositing.segmentation import SegmentationError, WeightsError, WeightsMissing

        try:
            return self.segmenter.segment(image, previous=previous)
        except (WeightsMissing, WeightsError) as exc:
            logger.error("segmentation model unavailable: %s", exc)
            raise ModelUnavailable() from exc
        except SegmentationError as exc:
            raise InvalidImage(f"This image cannot be segmented: {exc}") from exc


def get_engine(model: str | None = None) -> Engine:
    """The engine for ``model`` (default ``settings.VBG_SEGMENTER``), configured from settings
    and loaded once per process (lazily, under the package's lock)."""
    from compositing.segmentation import (
        UnknownSegmenter,
        WeightsError,
        WeightsMissing,
        configure,
        get_segmenter,
    )

    configure(model_dir=settings.VBG_MODEL_DIR, threads=settings.VBG_TORCH_THREADS)
    try:
        return Engine(get_segmenter(model or settings.VBG_SEGMENTER))
    except (WeightsMissing, WeightsError, UnknownSegmenter) as exc:
        logger.error("segmentation model unavailable: %s", exc)
        raise ModelUnavailable() from exc


def segment_photo(
    image: Image.Image | np.ndarray,
    *,
    model: str | None = None,
    previous: np.ndarray | None = None,
) -> np.ndarray:
    """``get_engine(model).segment(image, previous=previous)``."""
    return get_engine(model).segment(image, previous=previous)
