"""Training data: photo/mask pairs on disk and the data set that serves them.

Data (:func:`find_samples`): a directory of flat ``NAME.jpg`` + ``NAME.png`` pairs (mask
0..255, ≥128 = person; soft mattes allowed), or the AISegment "Matting Human" layout
``clip_img/**/NAME.jpg`` with ``matting/**/NAME.png`` RGBA mattes (alpha ≥ 128 = person).
Items are images float32 3xSxS in 0..1 (each model normalises them, see
:mod:`..preprocessing`) and targets float32 1xSxS in 0..1 (soft).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..image_input import image_to_rgb
from .augmentation import Augmentation, augment, resize_unit

_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class Sample:
    """One training pair: a photo and its person mask (or AISegment matte)."""

    photo: Path
    mask: Path


def find_samples(directory: Path | str) -> list[Sample]:
    """Pairs in ``directory``, sorted by photo path.

    AISegment layout when ``directory/clip_img`` and ``directory/matting`` exist: each
    ``clip_img/**/NAME.jpg`` pairs with the ``matting/**/NAME.png`` of the same stem (where
    stems repeat, the one whose path matches with ``clip_`` → ``matting_``). Otherwise flat
    ``NAME.jpg`` (or ``.jpeg``/``.webp``) + ``NAME.png``. Photos without a mask are skipped.
    Raises :class:`FileNotFoundError` when no pair is found.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    clips, mattes = directory / "clip_img", directory / "matting"
    if clips.is_dir() and mattes.is_dir():
        samples = _aisegment_samples(clips, mattes)
        layout = "AISegment clip_img/**/*.jpg + matting/**/*.png"
    else:
        samples = []
        for mask in sorted(directory.glob("*.png")):
            for suffix in _PHOTO_SUFFIXES:
                photo = mask.with_suffix(suffix)
                if photo.is_file():
                    samples.append(Sample(photo, mask))
                    break
        layout = "NAME.jpg + NAME.png pairs"
    if not samples:
        raise FileNotFoundError(f"no training pairs in {directory} (expected {layout})")
    return samples


def _aisegment_samples(clips: Path, mattes: Path) -> list[Sample]:
    by_stem: dict[str, list[Path]] = {}
    for matte in mattes.rglob("*.png"):
        by_stem.setdefault(matte.stem, []).append(matte)
    samples = []
    for photo in sorted(p for p in clips.rglob("*") if p.suffix.lower() in _PHOTO_SUFFIXES):
        candidates = by_stem.get(photo.stem, [])
        if len(candidates) > 1:
            relative = photo.relative_to(clips).with_suffix(".png")
            wanted = mattes / Path(*(part.replace("clip_", "matting_") for part in relative.parts))
            candidates = [c for c in candidates if c == wanted] or candidates[:1]
        if candidates:
            samples.append(Sample(photo, candidates[0]))
    return samples


def read_photo(path: Path) -> np.ndarray:
    """uint8 HxWx3 RGB, EXIF orientation applied."""
    with Image.open(path) as image:
        image.load()
        return image_to_rgb(image)


def read_mask(path: Path) -> np.ndarray:
    """uint8 HxW person mask 0..255: the alpha channel of an RGBA/LA image (AISegment's
    mattes) unless it is fully opaque everywhere, else the grey level."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return np.ascontiguousarray(alpha)
        return np.asarray(image.convert("L"))


class PairDataset(torch.utils.data.Dataset):
    """Samples as (image float32 3xSxS in 0..1, target float32 1xSxS in 0..1).

    With ``augmentation`` each item is a random resized crop (deterministic per seed, epoch
    and index, so runs and resumes repeat); without, the whole photo resized to SxS (the
    selfie network also sees the whole photo squeezed to its square input).
    ``repeat`` lists every sample that many times per epoch (tiny data sets).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        size: int,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        repeat: int = 1,
        cache: bool = False,
    ) -> None:
        if not samples:
            raise ValueError("no samples")
        self.samples = list(samples)
        self.size = int(size)
        self.augmentation = augmentation
        self.seed = seed
        self.repeat = max(1, int(repeat))
        self.epoch = 0
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = {} if cache else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples) * self.repeat

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Photo uint8 3xHxW and mask uint8 1xHxW of sample ``index`` (same size)."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        sample = self.samples[index]
        photo = read_photo(sample.photo)
        mask = read_mask(sample.mask)
        if mask.shape != photo.shape[:2]:
            mask = np.asarray(
                Image.fromarray(mask).resize((photo.shape[1], photo.shape[0]), Image.BILINEAR)
            )
        pair = (
            torch.from_numpy(np.array(photo)).permute(2, 0, 1).contiguous(),
            torch.from_numpy(np.array(mask))[None],
        )
        if self._cache is not None:
            self._cache[index] = pair
        return pair

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = item % len(self.samples)
        photo, mask = self.load(index)
        if self.augmentation is None:
            return resize_unit(photo, self.size, self.size), resize_unit(mask, self.size, self.size)
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + self.epoch * 10_007 + item) % (2**63)
        )
        return augment(photo, mask, self.size, self.augmentation, generator)


def split_samples(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """(train, val): a seeded random ``fraction`` held out (none when fewer than 10 samples)."""
    if fraction <= 0 or len(samples) < 10:
        return samples, []
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    count = max(1, round(fraction * len(samples)))
    held = set(order[:count])
    return [s for i, s in enumerate(samples) if i not in held], [samples[i] for i in sorted(held)]
