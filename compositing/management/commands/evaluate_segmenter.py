"""``manage.py evaluate_segmenter DIR [--model NAME] [--threshold 0.5]``.

DIR holds ``NAME.jpg`` + ``NAME.png`` pairs (mask 0..255, >=128 is person). One line per
image, then the summary; the last line printed is one JSON object: ``images``,
``miou_per_image``, ``iou_pooled``, ``pixel_accuracy``, ``mad``, ``ms_median`` (wall time of
``segment()`` per image), ``model`` and ``groups`` (the same metrics per file-name prefix,
e.g. ``aiseg``/``davis``/``cihp``). The logic is ``compositing.segmentation.evaluate``.

``manage.py evaluate_segmenter --video PATH``: PATH is one sequence folder or a folder of
them (``clip.mp4`` + ``masks/%05d.png``, optional ``meta.json``), run through exactly a
video job's mask path (the worker's frame segmenter, decode, network, temporal step,
refinement; ``compositing.video.evaluate``). One line per sequence; the last line is one JSON
object: ``sequences``, ``frames``, ``J``, ``J_clean``, ``F``, ``flicker``, ``ms_per_frame``,
``per_sequence``, ``model``.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compositing.engine import get_frame_segmenter
from compositing.segmentation import SegmentationError, configure, get_segmenter
from compositing.segmentation.evaluate import evaluate_directory
from compositing.video.evaluate import evaluate_video
from vbgsite.errors import AppError


class Command(BaseCommand):
    help = "Score a segmentation model on NAME.jpg + NAME.png pairs; last line is JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="folder of NAME.jpg + NAME.png pairs")
        parser.add_argument("--model", help="registered model name (default: VBG_SEGMENTER)")
        parser.add_argument("--threshold", type=float, default=0.5, help="alpha >= is person")
        parser.add_argument("--quiet", action="store_true", help="print only the JSON line")
        parser.add_argument(
            "--video", action="store_true", help="DIRECTORY holds video sequences (see above)"
        )

    def handle(self, *args, **options) -> None:
        directory = Path(options["directory"])
        if not directory.is_dir():
            raise CommandError(f"{directory} is not a directory")
        if not 0.0 < options["threshold"] <= 1.0:
            raise CommandError("--threshold must be in (0, 1]")
        if options["video"]:
            self._handle_video(directory, options)
            return
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

    def _handle_video(self, path: Path, options: dict) -> None:
        try:
            segmenter = get_frame_segmenter(options["model"])
        except AppError as exc:
            raise CommandError(f"model unavailable: {exc}") from exc

        def report(name: str, figures: dict) -> None:
            if not options["quiet"]:
                self.stdout.write(
                    f"{name}: frames {figures['frames']} J {figures['J']:.4f} "
                    f"F {figures['F']:.4f} flicker {figures['flicker']:.5f} "
                    f"{figures['ms_per_frame']:.1f} ms/frame"
                )

        try:
            result = evaluate_video(
                path, segmenter, threshold=options["threshold"], on_sequence=report
            )
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except (AppError, SegmentationError, ValueError) as exc:
            raise CommandError(" ".join(str(exc).split())) from exc
        result["model"] = segmenter.name
        self.stdout.write(json.dumps(result))
