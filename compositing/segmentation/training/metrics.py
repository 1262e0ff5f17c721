"""Scores during training: loss and IoU of a model on a data set (threshold 0.5)."""

from __future__ import annotations

import numpy as np
import torch

from .data import PairDataset
from .models import TrainableModel


@torch.no_grad()
def evaluate_model(
    model: TrainableModel, dataset: PairDataset, *, device: torch.device, batch_size: int = 4
) -> tuple[float, float, float]:
    """(mean loss, pooled IoU, mean per-image IoU) of ``model`` on ``dataset`` (eval mode,
    no augmentation expected), at the dataset's size, threshold 0.5."""
    was_training = model.training
    model.eval()
    loss_sum, seen = 0.0, 0
    counts = torch.zeros(2, dtype=torch.float64)
    per_image: list[float] = []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        loss_sum += float(model.loss(logits, targets)) * images.shape[0]
        seen += images.shape[0]
        prob = model.person_probability(logits)
        for index in range(images.shape[0]):
            one = iou_counts(prob[index : index + 1], targets[index : index + 1, 0])
            per_image.append(iou_ratio(one))
            counts += one
    model.train(was_training)
    return loss_sum / max(seen, 1), iou_ratio(counts), float(np.mean(per_image))


def iou_counts(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(intersection, union) pixel counts of ``prob`` >= 0.5 and ``target`` >= 0.5."""
    predicted, truth = prob >= 0.5, target >= 0.5
    return torch.tensor(
        [float((predicted & truth).sum()), float((predicted | truth).sum())], dtype=torch.float64
    )


def iou_ratio(counts: torch.Tensor) -> float:
    """Intersection over union of :func:`iou_counts` (1.0 when both are empty)."""
    intersection, union = float(counts[0]), float(counts[1])
    return intersection / union if union else 1.0
