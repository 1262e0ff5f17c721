"""Mask quality metrics (pure numpy): per-image scores and their aggregation; per-frame
video scores (DAVIS region J, boundary F) and temporal flicker.

Ground truth masks are uint8 0..255 (≥128 is person; soft mattes allowed); alphas float
0..1. IoU is computed on the thresholded alpha; ``mad`` is the mean absolute difference
between alpha and mask/255 (it rewards good soft edges).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MaskScore:
    """Counts for one image (pixels), additive across images for pooled metrics."""

    intersection: int
    union: int
    correct: int
    pixels: int
    abs_error_sum: float

    @property
    def iou(self) -> float:
        return self.intersection / self.union if self.union else 1.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.pixels if self.pixels else 1.0

    @property
    def mad(self) -> float:
        return self.abs_error_sum / self.pixels if self.pixels else 0.0


def mask_score(alpha: np.ndarray, mask: np.ndarray, *, threshold: float = 0.5) -> MaskScore:
    """Score float HxW ``alpha`` against uint8 HxW ``mask`` (same size)."""
    if alpha.shape != mask.shape:
        raise ValueError(f"alpha {alpha.shape} and mask {mask.shape} differ in size")
    predicted = alpha >= threshold
    truth = mask >= 128
    intersection = int(np.count_nonzero(predicted & truth))
    union = int(np.count_nonzero(predicted | truth))
    correct = int(np.count_nonzero(predicted == truth))
    abs_error = float(np.abs(alpha.astype(np.float64) - mask.astype(np.float64) / 255.0).sum())
    return MaskScore(intersection, union, correct, int(mask.size), abs_error)


def summarize(scores: list[MaskScore]) -> dict[str, float | int]:
    """``images``, ``miou_per_image``, ``iou_pooled``, ``pixel_accuracy``, ``mad`` (pooled)."""
    if not scores:
        return {"images": 0}
    intersection = sum(s.intersection for s in scores)
    union = sum(s.union for s in scores)
    pixels = sum(s.pixels for s in scores)
    return {
        "images": len(scores),
        "miou_per_image": round(float(np.mean([s.iou for s in scores])), 4),
        "iou_pooled": round(intersection / union if union else 1.0, 4),
        "pixel_accuracy": round(sum(s.correct for s in scores) / pixels, 4),
        "mad": round(sum(s.abs_error_sum for s in scores) / pixels, 5),
    }


# --- Video metrics (DAVIS conventions): region J, boundary F, temporal flicker -----------

# DAVIS boundary tolerance: this fraction of the image diagonal, in pixels (8 px at 854x480).
BOUNDARY_TOLERANCE = 0.008


def region_j(predicted: np.ndarray, truth: np.ndarray) -> float:
    """DAVIS region similarity J of one frame: IoU of two bool HxW masks (1 when both empty)."""
    union = np.count_nonzero(predicted | truth)
    return float(np.count_nonzero(predicted & truth)) / union if union else 1.0


def mask_boundary(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a bool HxW mask: pixels that differ from their right, lower or
    lower-right neighbour (DAVIS's ``seg2bmap`` at the mask's own size)."""
    mask = np.asarray(mask, bool)
    east = np.zeros_like(mask)
    south = np.zeros_like(mask)
    southeast = np.zeros_like(mask)
    east[:, :-1] = mask[:, 1:]
    south[:-1, :] = mask[1:, :]
    southeast[:-1, :-1] = mask[1:, 1:]
    boundary = (mask ^ east) | (mask ^ south) | (mask ^ southeast)
    boundary[-1, :] = mask[-1, :] ^ east[-1, :]
    boundary[:, -1] = mask[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def dilate_disk(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a bool HxW mask by a disk of ``radius`` pixels (pure numpy: one
    running-window count per row offset)."""
    if radius <= 0:
        return mask.copy()
    height, width = mask.shape
    counts = np.zeros((height, width + 1), np.int32)
    np.cumsum(mask, axis=1, out=counts[:, 1:])
    out = np.zeros_like(mask)
    for dy in range(-radius, radius + 1):
        half = int(np.floor(np.sqrt(radius * radius - dy * dy)))
        left = np.clip(np.arange(width) - half, 0, width)
        right = np.clip(np.arange(width) + half + 1, 0, width)
        within = (counts[:, right] - counts[:, left]) > 0  # any mask pixel in the row window
        if dy >= 0:
            out[dy:] |= within[: height - dy]
        else:
            out[:dy] |= within[-dy:]
    return out


def boundary_f(
    predicted: np.ndarray, truth: np.ndarray, *, tolerance: float = BOUNDARY_TOLERANCE
) -> float:
    """DAVIS boundary F-measure of one frame (bool HxW masks): precision and recall of the
    boundary pixels within ``tolerance`` x the image diagonal of the other boundary."""
    radius = int(np.ceil(tolerance * np.hypot(*truth.shape)))
    predicted, truth = _around_masks(predicted, truth, margin=radius + 1)
    predicted_edge = mask_boundary(predicted)
    true_edge = mask_boundary(truth)
    n_predicted = np.count_nonzero(predicted_edge)
    n_true = np.count_nonzero(true_edge)
    if n_predicted == 0 and n_true == 0:
        return 1.0
    if n_predicted == 0 or n_true == 0:
        return 0.0
    precision = np.count_nonzero(predicted_edge & dilate_disk(true_edge, radius)) / n_predicted
    recall = np.count_nonzero(true_edge & dilate_disk(predicted_edge, radius)) / n_true
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def _around_masks(
    first: np.ndarray, second: np.ndarray, *, margin: int
) -> tuple[np.ndarray, np.ndarray]:
    """Both bool masks cropped to the box around their pixels plus ``margin`` (clipped to
    the image): the boundary scores are unchanged and far cheaper on small people."""
    rows = np.flatnonzero((first | second).any(axis=1))
    cols = np.flatnonzero((first | second).any(axis=0))
    if rows.size == 0:
        return first, second
    height, width = first.shape
    y0, y1 = max(0, rows[0] - margin), min(height, rows[-1] + margin + 1)
    x0, x1 = max(0, cols[0] - margin), min(width, cols[-1] + margin + 1)
    return first[y0:y1, x0:x1], second[y0:y1, x0:x1]


def stable_flicker(
    alpha: np.ndarray, previous_alpha: np.ndarray, truth: np.ndarray, previous_truth: np.ndarray
) -> float | None:
    """Flicker of one frame pair: mean |alpha_t - alpha_{t-1}| over the pixels whose ground
    truth (bool HxW) did not change; alphas float HxW in 0..1. None when every pixel changed."""
    stable = truth == previous_truth
    if not stable.any():
        return None
    change = np.abs(np.asarray(alpha, np.float32) - np.asarray(previous_alpha, np.float32))
    return float(change[stable].mean())


@dataclass
class SequenceScore:
    """Per-frame J and F of one video sequence and its flicker terms (frame pairs)."""

    j: list[float]
    f: list[float]
    flicker: list[float]

    @classmethod
    def empty(cls) -> SequenceScore:
        return cls([], [], [])

    def summary(self) -> dict[str, float | int]:
        """``frames``, ``J``, ``F`` (means over frames), ``flicker`` (mean over pairs)."""
        return {
            "frames": len(self.j),
            "J": round(float(np.mean(self.j)), 4) if self.j else 0.0,
            "F": round(float(np.mean(self.f)), 4) if self.f else 0.0,
            "flicker": round(float(np.mean(self.flicker)), 5) if self.flicker else 0.0,
        }
