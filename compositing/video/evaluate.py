"""Scoring the video mask path on sequences with per-frame ground truth.

A sequence is a folder holding ``clip.mp4`` and ``masks/%05d.png`` (L, >= 128 is person),
optionally ``meta.json`` (``"unlabelled_people": true`` when people in view are not in the
masks). Output frame i of the job's mask path (:func:`.masks.video_masks`: decode, network,
temporal step, refinement) is compared with mask i: DAVIS region J and boundary F per frame,
flicker over frame pairs (see :mod:`compositing.segmentation.metrics`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from compositing.segmentation.frames import FrameSegmenter
from compositing.segmentation.metrics import (
    SequenceScore,
    boundary_f,
    region_j,
    stable_flicker,
)

from .masks import video_masks


def sequence_folders(path: Path) -> list[Path]:
    """``path`` itself when it is a sequence (holds ``clip.mp4``), else its sequence
    subfolders, sorted by name. FileNotFoundError when there is none."""
    path = Path(path)
    if (path / "clip.mp4").is_file():
        return [path]
    children = sorted(path.iterdir()) if path.is_dir() else []
    folders = [child for child in children if (child / "clip.mp4").is_file()]
    if not folders:
        raise FileNotFoundError(f"no sequence (a folder with clip.mp4 and masks/) in {path}")
    return folders


def unlabelled_people(sequence: Path) -> bool:
    """Whether ``meta.json`` says people in view are not in the masks."""
    meta = sequence / "meta.json"
    if not meta.is_file():
        return False
    return bool(json.loads(meta.read_text()).get("unlabelled_people", False))


def evaluate_sequence(
    sequence: Path, masks: Callable[[Path], Iterable[np.ndarray]], *, threshold: float = 0.5
) -> dict:
    """Score the masks ``masks(clip)`` yields (uint8 HxW, one per frame) against the
    sequence's ground truth. Returns ``frames``, ``J``, ``F``, ``flicker``, ``ms_per_frame``
    (wall time of the mask path, metrics excluded) and ``unlabelled_people``.

    ValueError when the clip and the masks disagree in count or size.
    """
    score = SequenceScore.empty()
    level = round(threshold * 255)
    previous: tuple[np.ndarray, np.ndarray] | None = None
    elapsed, index = 0.0, 0
    produced = iter(masks(sequence / "clip.mp4"))
    while True:
        start = time.perf_counter()
        mask = next(produced, None)
        elapsed += time.perf_counter() - start
        if mask is None:
            break
        truth = _truth(sequence, index, mask.shape)
        predicted = mask >= level
        score.j.append(region_j(predicted, truth))
        score.f.append(boundary_f(predicted, truth))
        alpha = mask.astype(np.float32) * np.float32(1 / 255)
        if previous is not None:
            flicker = stable_flicker(alpha, previous[0], truth, previous[1])
            if flicker is not None:
                score.flicker.append(flicker)
        previous = (alpha, truth)
        index += 1
    if (sequence / "masks" / f"{index:05d}.png").exists() or index == 0:
        raise ValueError(f"{sequence.name}: the clip decoded to {index} frames, fewer than masks")
    result = score.summary()
    result["ms_per_frame"] = round(elapsed / index * 1000, 2)
    result["unlabelled_people"] = unlabelled_people(sequence)
    return result


def _truth(sequence: Path, index: int, shape: tuple[int, ...]) -> np.ndarray:
    path = sequence / "masks" / f"{index:05d}.png"
    if not path.is_file():
        raise ValueError(f"{sequence.name}: frame {index} has no mask ({path.name})")
    with Image.open(path) as opened:
        truth = np.asarray(opened.convert("L")) >= 128
    if truth.shape != shape:
        raise ValueError(f"{sequence.name}: mask {path.name} is {truth.shape}, frame {shape}")
    return truth


def evaluate_video(
    path: Path,
    segmenter: FrameSegmenter,
    *,
    threshold: float = 0.5,
    on_sequence: Callable[[str, dict], None] | None = None,
) -> dict:
    """Every sequence under ``path`` through the video job's mask path, scored.

    Returns ``sequences``, ``frames``, ``J``, ``J_clean`` (J over sequences without
    unlabelled people; null when none), ``F``, ``flicker`` (means over sequences),
    ``ms_per_frame`` (over frames) and ``per_sequence`` (name -> that sequence's figures).
    """

    def masks(clip: Path) -> Iterable[np.ndarray]:
        return video_masks(clip, segmenter=segmenter)

    per_sequence: dict[str, dict] = {}
    for sequence in sequence_folders(path):
        per_sequence[sequence.name] = evaluate_sequence(sequence, masks, threshold=threshold)
        if on_sequence is not None:
            on_sequence(sequence.name, per_sequence[sequence.name])
    results = list(per_sequence.values())
    clean = [r["J"] for r in results if not r["unlabelled_people"]]
    frames = sum(r["frames"] for r in results)

    def mean(key: str, digits: int) -> float:
        return round(float(np.mean([r[key] for r in results])), digits)

    return {
        "sequences": len(results),
        "frames": frames,
        "J": mean("J", 4),
        "J_clean": round(float(np.mean(clean)), 4) if clean else None,
        "F": mean("F", 4),
        "flicker": mean("flicker", 5),
        "ms_per_frame": round(sum(r["ms_per_frame"] * r["frames"] for r in results) / frames, 2),
        "per_sequence": per_sequence,
    }
