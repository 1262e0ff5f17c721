"""Quality of every backend that has weights, on a NAME.jpg + NAME.png directory.

    .venv/bin/python bench/eval_backends.py ../shared/data/portraits-dev [--threads 2]
        [--model-dir models] [--models selfie,fcn_resnet101,...]

For each model name (default: ``selfie`` plus every torchvision architecture's published
weights and every ``ARCH/NAME.pt`` found in the model directory) prints the metrics of
``evaluate_segmenter`` (mIoU per image, pooled IoU, pixel accuracy, MAD, median ms) and the
per-group table (file-name prefix: aiseg, davis, cihp); models without weights are listed
as skipped, with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))


def discover(model_dir: Path) -> list[str]:
    from compositing.segmentation.weights.catalog import TRAINABLE_ARCHS, model_label

    models = ["selfie"]
    for arch in TRAINABLE_ARCHS:
        for path in sorted((model_dir / arch).glob("*.pt")):
            models.append(model_label(arch, path.stem))
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=str(BASE_DIR / "models"))
    parser.add_argument("--models", help="comma-separated model names (default: discover)")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()

    from compositing.segmentation import SegmentationError, configure, get_segmenter, segment
    from compositing.segmentation.evaluate import evaluate_directory

    model_dir = Path(args.model_dir)
    configure(model_dir=model_dir, threads=args.threads)
    models = args.models.split(",") if args.models else discover(model_dir)
    for model in models:
        try:
            get_segmenter(model)
        except SegmentationError as exc:
            print(json.dumps({"model": model, "skipped": str(exc)}))
            continue
        result = evaluate_directory(
            Path(args.directory),
            lambda photo, m=model: segment(photo, model=m),
            threshold=args.threshold,
        )
        groups = result.pop("groups")
        print(f"{model}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
        for name, group in groups.items():
            print(f"    {name:8} " + ", ".join(f"{k} {v}" for k, v in group.items()))
        print(json.dumps({"model": model, **result, "groups": groups}))


if __name__ == "__main__":
    main()
