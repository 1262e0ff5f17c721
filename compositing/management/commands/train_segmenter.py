"""``manage.py train_segmenter``: transfer learning of a person-segmentation network.

    python manage.py train_segmenter --arch fcn_resnet101 --data DIR [--val DIR] \\
        --epochs N --out NAME [--lr LR] [--batch-size B] [--size PX] [--freeze-backbone] \\
        [--init auto|random|imagenet|NAME] [--resume]

DIR holds flat ``NAME.jpg`` + ``NAME.png`` pairs or the AISegment layout (``clip_img/`` +
``matting/``). The weights go to ``VBG_MODEL_DIR/ARCH/NAME.pt`` (and to the bucket as
``models/ARCH/NAME.pt`` when S3 storage is configured); select them with
``VBG_SEGMENTER=ARCH:NAME``. The last line printed is a JSON summary.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compositing.model_store import model_store_enabled, model_upload
from compositing.segmentation.errors import SegmentationError
from compositing.segmentation.training.loop import TrainConfig, TrainResult, train
from compositing.segmentation.weights.catalog import TRAINABLE_ARCHS, model_label


class Command(BaseCommand):
    help = "Fine-tune a segmentation network (new binary person head) on photo/mask pairs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--arch", required=True, help=f"one of: {', '.join(TRAINABLE_ARCHS)}")
        parser.add_argument("--data", required=True, help="training pairs directory")
        parser.add_argument("--val", help="validation pairs directory (default: 10%% held out)")
        parser.add_argument("--epochs", type=int, default=10)
        parser.add_argument("--out", required=True, help="weights name: model ARCH:NAME")
        parser.add_argument("--lr", type=float, help="head learning rate (default per arch)")
        parser.add_argument(
            "--backbone-lr-scale",
            type=float,
            default=0.1,
            help="backbone learning rate = lr * this (unless --freeze-backbone)",
        )
        parser.add_argument("--batch-size", type=int, default=4)
        parser.add_argument("--size", type=int, help="crop size in px (default per arch)")
        parser.add_argument("--freeze-backbone", action="store_true")
        parser.add_argument(
            "--init",
            default="auto",
            help="starting weights: auto (published/default weights), random, imagenet "
            "(downloads torchvision's backbone), or a weights NAME of this arch",
        )
        parser.add_argument(
            "--head-from-voc",
            action="store_true",
            help="start the binary head from the VOC background/person rows of a 21-class head",
        )
        parser.add_argument("--no-augment", action="store_true")
        parser.add_argument("--repeat", type=int, default=1, help="passes over DIR per epoch")
        parser.add_argument("--workers", type=int, default=0, help="data loader processes")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
        parser.add_argument("--resume", action="store_true", help="continue from the checkpoint")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument("--no-upload", action="store_true", help="do not copy to the bucket")

    def handle(self, *args, **options) -> None:
        arch = options["arch"]
        if arch not in TRAINABLE_ARCHS:
            raise CommandError(
                f"unknown architecture {arch!r}; choose one of: {', '.join(TRAINABLE_ARCHS)}"
            )
        threads = getattr(settings, "VBG_TORCH_THREADS", 0)
        if threads:
            torch.set_num_threads(threads)
        try:
            result = train(_train_config(options), log=lambda line: self.stdout.write(line))
        except (SegmentationError, FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc).splitlines()[0] if str(exc) else repr(exc)) from exc

        model = model_label(arch, options["out"])
        bucket_name = None
        if model_store_enabled() and not options["no_upload"]:
            bucket_name = model_upload(path=result.weights_path, arch=arch, name=options["out"])
            self.stdout.write(f"uploaded to the bucket as {bucket_name}")
        self.stdout.write(f"saved {result.weights_path}; use it with VBG_SEGMENTER={model}")
        self.stdout.write(json.dumps(_summary(result, model=model, bucket_name=bucket_name)))


def _train_config(options: dict[str, Any]) -> TrainConfig:
    """The training configuration the command-line options describe (ValueError if bad)."""
    return TrainConfig(
        arch=options["arch"],
        data=options["data"],
        val=options["val"],
        out=options["out"],
        model_dir=settings.VBG_MODEL_DIR,
        epochs=options["epochs"],
        lr=options["lr"],
        backbone_lr_scale=options["backbone_lr_scale"],
        freeze_backbone=options["freeze_backbone"],
        batch_size=options["batch_size"],
        size=options["size"],
        init=options["init"],
        head_from_voc=options["head_from_voc"],
        augment=not options["no_augment"],
        repeat=options["repeat"],
        workers=options["workers"],
        seed=options["seed"],
        device=options["device"],
        resume=options["resume"],
        progress=not options["no_progress"],
    )


def _summary(result: TrainResult, *, model: str, bucket_name: str | None) -> dict[str, Any]:
    """The JSON line printed last: the model name, where the weights are, per-epoch figures."""
    last = result.history[-1] if result.history else None
    return {
        "model": model,
        "weights": str(result.weights_path),
        "bucket": bucket_name,
        "source": result.source,
        "best_val_iou": None if math.isnan(result.best_val_iou) else result.best_val_iou,
        "epochs": [
            {
                "epoch": row.epoch,
                "train_loss": round(row.train_loss, 5),
                "train_iou": round(row.train_iou, 4),
                "val_loss": round(row.val_loss, 5),
                "val_iou": round(row.val_iou, 4),
                "seconds": round(row.seconds, 1),
            }
            for row in result.history
        ],
        "final_train_loss": round(last.train_loss, 5) if last else None,
    }
