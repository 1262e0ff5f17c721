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

    from .refine import Runner


class Segmenter(ABC):
    """A loaded person-segmentation model. ``name`` is recorded on each composite."""

    name: str

    def segment(self, image: Image.Image | np.ndarray) -> np.ndarray:
        """Person alpha for ``image``: float32 HxW in 0..1 at full resolution (upright).

        All zeros means no person was found. (Videos go through
        :mod:`compositing.segmentation.frames` and the video package's temporal step.)
        """
        return self.segment_rgb(image_to_rgb(image))

    def segment_matte(
        self, image: Image.Image | np.ndarray, *, runner: Runner | None = None
    ) -> np.ndarray:
        """The 8-bit matte of ``image``: uint8 HxW, ``round(255 * alpha)`` of
        :meth:`segment` (a backend may make it without the float alpha). ``runner``: how a
        backend may run independent parts of its work (``refine.Runner``; this one runs
        everything in the caller)."""
        alpha = self.segment(image)
        matte = np.empty(alpha.shape, np.uint8)
        rows = max(1, (1 << 20) // max(1, alpha.shape[1]))
        for top in range(0, alpha.shape[0], rows):
            scaled = np.multiply(alpha[top : top + rows], 255.0, dtype=np.float32)
            matte[top : top + rows] = np.clip(scaled + 0.5, 0.0, 255.0, out=scaled)
        return matte

    def warm_up(self, sizes: tuple[tuple[int, int], ...] = ((864, 1152), (1920, 1080))) -> None:
        """Run every code path a photo takes once for each (width, height) in ``sizes``, so
        lazily built state (traced networks, kernel caches, the allocator's pools) exists
        before a server forks its workers and is shared by them (copy-on-write).

        A blank picture finds no person and would stop after the network, so the
        full-resolution refinement is run on it too, with the network's own probability.
        """
        import torch

        for width, height in sizes:
            rgb = np.full((height, width, 3), 128, np.uint8)
            self.segment_rgb(rgb)
            photo = torch.from_numpy(rgb)
            self.refine(photo, self.probability(photo), torch.zeros(height, width))

    def refine(self, rgb: torch.Tensor, prob: torch.Tensor, out: torch.Tensor) -> None:  # noqa: B027
        """Full-resolution alpha (float32 HxW, written to ``out``) of uint8 HxWx3 ``rgb``
        from the network-resolution ``prob``. Backends without a refinement step of their
        own need not override it (warming up then skips it)."""

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
