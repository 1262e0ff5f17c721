"""``manage.py evaluate_segmenter DIR [--model NAME] [--threshold 0.5]``.

DIR holds ``NAME.jpg`` + ``NAME.png`` pairs (mask 0..255, >=128 is person). One line per
image, then the summary; the last line printed is one JSON object: ``images``,
``miou_per_image``, ``iou_pooled``, ``pixel_accuracy``, ``mad``, ``ms_median`` (wall time of
``segment()`` per image), ``model`` and ``groups`` (the same metrics per file-name prefix,
e.g. ``aiseg``/``davis``/``cihp``). The logic is ``compositing.segmentation.evaluate``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compositing.segmentation import SegmentationError, configure, get_segmenter
from compositing.segmentation.evaluate import evaluate_directory


class Command(BaseCommand):
    help = "Score a segmentation model on NAME.jpg + NAME.png pairs; last line is JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="folder of NAME.jpg + NAME.png pairs")
        parser.add_argument("--model", help="registered model name (default: VBG_SEGMENTER)")
        parser.add_argument("--threshold", type=float, default=0.5, help="alpha >= is person")
        parser.add_argument("--quiet", action="store_true", help="print only the JSON line")

    def handle(self, *args, **options) -> None:
        directory = Path(options["directory"])
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        if not 0.0 < options["threshold"] <= 1.0:
            raise CommandError("--threshold must be in (0, 1]")
        configure(model_dir=settings.VBG_MODEL_DIR, threads=settings.VBG_TORCH_THREADS)
        model = options["model"] or settings.VBG_SEGMENTER
        try:
            segmenter = get_segmenter(model)
        except SegmentationError as exc:
            raise CommandError(" ".join(str(exc).split())) from exc

        def report(name: str, score, elapsed_ms: float) -> None:
            if not options["quiet"]:
                self.stdout.write(
                    f"{name}: iou {score.iou:.4f} accuracy {score.accuracy:.4f} "
                    f"mad {score.mad:.4f} {elapsed_ms:.1f} ms"
                )

        try:
            result = evaluate_directory(
                directory, segmenter.segment, threshold=options["threshold"], on_image=report
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except (SegmentationError, ValueError) as exc:
            raise CommandError(" ".join(str(exc).split())) from exc
        result["model"] = segmenter.name
        if not options["quiet"]:
            for group, metrics in result["groups"].items():
                self.stdout.write(
                    f"[{group}] images {metrics['images']} miou {metrics['miou_per_image']:.4f} "
                    f"pooled {metrics['iou_pooled']:.4f} accuracy {metrics['pixel_accuracy']:.4f} "
                    f"mad {metrics['mad']:.5f}"
                )
        self.stdout.write(json.dumps(result))
