"""Evaluate a segmenter on a directory of ``NAME.jpg`` + ``NAME.png`` (mask) pairs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from .metrics import MaskScore, mask_score, summarize

_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def dataset_pairs(directory: Path) -> list[tuple[Path, Path]]:
    """(photo, mask) pairs: every ``NAME.png`` mask with a ``NAME.jpg``/``.jpeg``/``.webp``
    photo beside it, sorted by name."""
    directory = Path(directory)
    pairs = []
    for mask in sorted(directory.glob("*.png")):
        for suffix in (".jpg", ".jpeg", ".webp"):
            photo = mask.with_suffix(suffix)
            if photo.is_file():
                pairs.append((photo, mask))
                break
    return pairs


def group_of(path: Path) -> str:
    """Group name of a sample: its file name up to the first underscore (``davis_x`` → davis)."""
    return path.stem.split("_", 1)[0]


def evaluate_directory(
    directory: Path,
    segment: Callable[[Image.Image], np.ndarray],
    *,
    threshold: float = 0.5,
    warmup: bool = True,
    on_image: Callable[[str, MaskScore, float], None] | None = None,
) -> dict:
    """Run ``segment`` on every pair and score it.

    Returns the overall summary (``images``, ``miou_per_image``, ``iou_pooled``,
    ``pixel_accuracy``, ``mad``, ``ms_median``: wall time of ``segment`` per image, after one
    untimed warm-up call that also loads the model) and ``groups``: the same metrics per
    file-name prefix.
    """
    pairs = dataset_pairs(directory)
    if not pairs:
        raise FileNotFoundError(f"no NAME.jpg + NAME.png pairs in {directory}")
    scores: list[MaskScore] = []
    groups: dict[str, list[MaskScore]] = {}
    times_ms: list[float] = []
    for index, (photo_path, mask_path) in enumerate(pairs):
        with Image.open(photo_path) as opened:
            photo = opened.copy()
        with Image.open(mask_path) as opened:
            mask = np.asarray(opened.convert("L"))
        if warmup and index == 0:
            segment(photo)
        start = time.perf_counter()
        alpha = segment(photo)
        elapsed = (time.perf_counter() - start) * 1000.0
        score = mask_score(alpha, mask, threshold=threshold)
        scores.append(score)
        groups.setdefault(group_of(photo_path), []).append(score)
        times_ms.append(elapsed)
        if on_image is not None:
            on_image(photo_path.stem, score, elapsed)
    result = summarize(scores)
    result["ms_median"] = round(float(np.median(times_ms)), 2)
    result["groups"] = {name: summarize(group) for name, group in sorted(groups.items())}
    return result
