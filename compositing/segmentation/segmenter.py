"""The interface every segmentation backend implements, and temporal smoothing for video.

A backend subclasses :class:`Segmenter` and implements :meth:`Segmenter.segment_rgb` (a
whole photo -> full-resolution alpha) and the network-resolution pair
:meth:`Segmenter.network_size` / :meth:`Segmenter.probability` (what the video pipeline uses,
through :mod:`.frames`); input normalisation (EXIF, PIL modes) and the temporal hook are
shared here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .errors import SegmentationError
from .image_input import image_to_rgb

if TYPE_CHECKING:
    import torch

# How strongly ``previous`` pulls the new alpha where the two nearly agree (flicker);
# where they disagree (real motion) the new frame wins. 0 disables smoothing.
DEFAULT_TEMPORAL_STRENGTH = 0.5


class Segmenter(ABC):
    """A loaded person-segmentation model. ``name`` is recorded on each composite."""

    name: str

    def segment(
        self,
        image: Image.Image | np.ndarray,
        *,
        previous: np.ndarray | None = None,
        temporal_strength: float = DEFAULT_TEMPORAL_STRENGTH,
    ) -> np.ndarray:
        """Person alpha for ``image``: float32 HxW in 0..1 at full resolution (upright).

        ``previous``: the alpha returned for the previous video frame (same size), used to
        damp flicker (see :func:`temporal_smooth`). All zeros means no person was found.
        """
        alpha = self.segment_rgb(image_to_rgb(image))
        if previous is not None:
            alpha = temporal_smooth(alpha, previous, strength=temporal_strength)
        return alpha

    @abstractmethod
    def segment_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 RGB (C-contiguous) → float32 HxW alpha in 0..1."""

    @abstractmethod
    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(height, width) in pixels of the input the network wants for an upright picture
        ``width`` x ``height`` (a frame resized to it goes through without another resize)."""

    @abstractmethod
    def probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Person probability of uint8 HxWx3 ``rgb`` (a torch tensor, any size; resized to
        :meth:`network_size` unless already that size): float32 hxw in 0..1 at network
        resolution, no refinement and no "no person" cut-off."""


def temporal_smooth(alpha: np.ndarray, previous: np.ndarray, *, strength: float) -> np.ndarray:
    """Motion-aware exponential smoothing of consecutive frames' alphas (in place on alpha).

    ``alpha + strength · (1 - |alpha - previous|) · (previous - alpha)``: small frame-to-frame
    wobble is averaged away, large changes (the person moved) pass through. Shapes HxW.
    """
    if previous.shape != alpha.shape:
        raise SegmentationError(
            f"previous alpha has shape {previous.shape}, the frame {alpha.shape}"
        )
    if strength <= 0.0:
        return alpha
    difference = previous.astype(np.float32, copy=False) - alpha
    pull = 1.0 - np.abs(difference)
    pull *= min(strength, 1.0)
    difference *= pull
    alpha += difference
    np.clip(alpha, 0.0, 1.0, out=alpha)
    return alpha


class VideoSegmenter:
    """Stateful per-clip wrapper: feeds each frame's alpha to the next as ``previous``.

    ``frame_alpha = video(frame)``; call :meth:`reset` at a cut or a new clip.
    """

    def __init__(
        self, segmenter: Segmenter, *, temporal_strength: float = DEFAULT_TEMPORAL_STRENGTH
    ) -> None:
        self.segmenter = segmenter
        self.temporal_strength = temporal_strength
        self._previous: np.ndarray | None = None

    def __call__(self, frame: Image.Image | np.ndarray) -> np.ndarray:
        previous = self._previous
        alpha = self.segmenter.segment(
            frame,
            previous=previous if previous is not None and self._fits(frame) else None,
            temporal_strength=self.temporal_strength,
        )
        self._previous = alpha.copy()
        return alpha

    def _fits(self, frame: Image.Image | np.ndarray) -> bool:
        assert self._previous is not None
        size = frame.size[::-1] if isinstance(frame, Image.Image) else frame.shape[:2]
        return tuple(size) == self._previous.shape

    def reset(self) -> None:
        self._previous = None
