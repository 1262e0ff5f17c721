"""The interface every segmentation backend implements.

A backend subclasses :class:`Segmenter` and implements :meth:`Segmenter.segment_rgb` (a
whole photo -> full-resolution alpha) and the network-resolution pair
:meth:`Segmenter.network_size` / :meth:`Segmenter.probability` (what the video pipeline uses,
through :mod:`.frames`); input normalisation (EXIF, PIL modes) is shared here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .image_input import image_to_rgb

if TYPE_CHECKING:
    import torch


class Segmenter(ABC):
    """A loaded person-segmentation model. ``name`` is recorded on each composite."""

    name: str

    def segment(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """Person alpha for ``image``: float32 HxW in 0..1 at full resolution (upright).

        All zeros means no person was found. (Videos go through
        :mod:`compositing.segmentation.frames` and the video package's temporal step.)
        """
        return self.segment_rgb(image_to_rgb(image))

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
