"""Time per 1080p photo of every segmentation backend, next to the default network.

    .venv/bin/python bench/bench_backends.py [--rounds 5] [--threads 2] [--model-dir models]

``segment()`` of one 1920x1080 photo (scikit-image's astronaut, scaled to cover 1080p),
refinement included, for ``selfie`` (the default) and each torchvision backend. The torchvision
backends use their published weights when ``fetch_model --torchvision ARCH`` stored them in
the model directory, otherwise randomly initialised 21-class weights of the same shape
(the compute is the same; the masks are meaningless, so "no person" is turned off for
the timing: every backend runs its full refinement). Calls are interleaved round by round
so every backend sees the same machine load; the figures are medians and ratios to the
default network measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

ARCHS = ("lraspp_mobilenet_v3_large", "deeplabv3_resnet50", "fcn_resnet101")


def photo_1080p() -> np.ndarray:
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    scale = max(1920 / photo.width, 1080 / photo.height)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    left, top = (photo.width - 1920) // 2, (photo.height - 1080) // 2
    return np.asarray(photo.crop((left, top, left + 1920, top + 1080)))


def prepare_model_dir(source: Path, target: Path) -> dict[str, str]:
    """Default weights + each arch's published weights (or random ones); returns labels."""
    import torch

    from compositing.segmentation.torchvision_nets import build_model
    from compositing.segmentation.weights.catalog import (
        PUBLISHED_WEIGHTS,
        SELFIE_WEIGHTS,
        weights_file,
        weights_path,
    )
    from compositing.segmentation.weights.checkpoint_import import import_state_dict

    for spec in SELFIE_WEIGHTS:
        shutil.copy2(weights_path(spec, source), target)
    labels = {"selfie": "MediaPipe selfie (converted)"}
    for arch in ARCHS:
        published = weights_file(source, arch, PUBLISHED_WEIGHTS)
        if published.is_file():
            destination = weights_file(target, arch, PUBLISHED_WEIGHTS)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(published, destination)
            labels[arch] = "published COCO/VOC"
        else:
            torch.manual_seed(0)
            state = build_model(arch, num_classes=21).state_dict()
            import_state_dict(
                state,
                model_dir=target,
                arch=arch,
                name=PUBLISHED_WEIGHTS,
                source="random (benchmark)",
            )
            labels[arch] = "random init (published weights not reachable)"
    return labels


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=str(BASE_DIR / "models"))
    parser.add_argument("--backends", default="selfie," + ",".join(ARCHS))
    args = parser.parse_args()
    names = args.backends.split(",")
    labels, times, load_mb = measure(names, Path(args.model_dir), args.threads, args.rounds)
    report(names, labels, times, load_mb, threads=args.threads, rounds=args.rounds)


def measure(
    names: list[str], model_dir: Path, threads: int, rounds: int
) -> tuple[dict[str, str], dict[str, list[float]], dict[str, float]]:
    """(weights labels, per-call ms per backend, RSS growth on load in MB)."""
    import torch

    from compositing.segmentation import configure, get_segmenter

    photo = photo_1080p()
    with tempfile.TemporaryDirectory() as tmp:
        labels = prepare_model_dir(model_dir, Path(tmp))
        configure(model_dir=tmp, threads=threads)
        torch.set_num_threads(threads)
        segmenters, load_mb = {}, {}
        for name in names:
            before = rss_mb()
            segmenter = get_segmenter(name)
            if hasattr(segmenter, "min_person_fraction"):
                segmenter.min_person_fraction = 0.0  # random weights: time the whole path
            segmenter.segment(photo)  # warm-up (allocations, oneDNN kernels)
            load_mb[name] = rss_mb() - before
            segmenters[name] = segmenter
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                start = time.perf_counter()
                segmenters[name].segment(photo)
                times[name].append((time.perf_counter() - start) * 1000.0)
    return labels, times, load_mb


def report(
    names: list[str],
    labels: dict[str, str],
    times: dict[str, list[float]],
    load_mb: dict[str, float],
    *,
    threads: int,
    rounds: int,
) -> None:
    """The table, then one JSON line."""
    base = statistics.median(times[names[0]])
    print(
        f"segment() of a 1920x1080 photo, torch threads {threads}, "
        f"{rounds} interleaved rounds, median ms (ratio to {names[0]})"
    )
    print(f"{'backend':28} {'weights':46} {'ms':>9} {'ratio':>8} {'+RSS MB':>8}")
    rows = []
    for name in names:
        median = statistics.median(times[name])
        rows.append(
            {
                "backend": name,
                "weights": labels.get(name, ""),
                "ms_median": round(median, 1),
                "ms_min": round(min(times[name]), 1),
                "ratio": round(median / base, 2),
                "load_rss_mb": round(load_mb[name], 1),
            }
        )
        print(
            f"{name:28} {labels.get(name, ''):46} {median:9.1f} {median / base:8.2f} "
            f"{load_mb[name]:8.1f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "threads": threads,
                "rounds": rounds,
                "peak_rss_mb": round(peak),
                "backends": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
