"""Person segmentation engine (no Django here; torch is imported only when a model loads).

Public API::

    from compositing.segmentation import segment, get_segmenter, configure, SegmentationError

    configure(model_dir="models", threads=2)       # once, before the first call
    alpha = segment(photo)                          # float32 HxW in 0..1, full resolution
    get_segmenter("selfie").name                    # loaded once per process, under a lock
    frames = frame_segmenter()                      # the video pipeline's FrameSegmenter
"""

from __future__ import annotations

import os

# OpenMP's default "active" wait makes torch's idle threads spin on the cores. With more
# runnable threads than cores (gunicorn workers, the task worker, anything else on the
# machine) a 30 ms inference then takes seconds. Passive waiting must be chosen before
# torch's OpenMP runtime loads, and torch is imported only later, when a model loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
from PIL import Image

from .errors import SegmentationError, UnknownSegmenter, WeightsError, WeightsMissing
from .frames import FrameSegmenter, SegmenterFrames, frame_segmenter
from .registry import (
    EngineConfig,
    available_segmenters,
    clear_segmenters,
    configure,
    get_config,
    get_person_detector,
    get_segmenter,
)
from .segmenter import Segmenter

__all__ = [
    "EngineConfig",
    "FrameSegmenter",
    "SegmentationError",
    "Segmenter",
    "SegmenterFrames",
    "UnknownSegmenter",
    "WeightsError",
    "WeightsMissing",
    "available_segmenters",
    "clear_segmenters",
    "configure",
    "frame_segmenter",
    "get_config",
    "get_person_detector",
    "get_segmenter",
    "segment",
]


def segment(
    image: Image.Image | np.ndarray,
    *,
    model: str | None = None,
) -> np.ndarray:
    """Person alpha of ``image`` (PIL image in any mode, EXIF-rotated; or uint8 HxWx3 RGB).

    Returns float32 HxW in 0..1 at the image's full (upright) resolution; all zeros when no
    person is found. ``model`` picks a registered segmenter (default: the configured one).
    """
    return get_segmenter(model).segment(image)
