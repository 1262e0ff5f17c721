"""The training loop: configuration, resumable checkpoints, one epoch, the best weights.

As in the report this project grew from: start from a pretrained network, give it a new
binary person head, train with cross-entropy (the selfie network, which already has a
single person output, with binary cross-entropy), keep the pretrained backbone frozen or at
a low learning rate, and threshold the output to a mask.

Each epoch: augmented training pass (random resized crop, horizontal flip, colour jitter),
then validation loss and IoU (``--val`` directory, else a held-out 10 % of the data, else the
training images without augmentation), a checkpoint (model, optimiser, history: ``resume``
continues from it) and, when validation IoU improved, the weights file
``<model_dir>/<arch>/<name>.pt`` that ``get_segmenter("ARCH:NAME")`` loads.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import WeightsMissing
from ..weights.catalog import (
    SELFIE_ARCH,
    TORCHVISION_ARCHS,
    check_arch,
    check_weights_name,
    checkpoint_path,
    weights_file,
)
from ..weights.files import atomic_save
from .augmentation import Augmentation
from .data import PairDataset, Sample, find_samples, split_samples
from .metrics import evaluate_model, iou_counts, iou_ratio
from .models import TorchvisionTrainable, TrainableModel, build_trainable, export_weights
from .progress import progress_bar

CHECKPOINT_VERSION = 1

# Defaults per architecture: crop size (px), learning rate of the head.
DEFAULT_SIZE = {SELFIE_ARCH: 256, **dict.fromkeys(TORCHVISION_ARCHS, 320)}
DEFAULT_LR = {SELFIE_ARCH: 1e-4, **dict.fromkeys(TORCHVISION_ARCHS, 1e-3)}


@dataclass
class TrainConfig:
    """Everything ``train`` needs (see the management command for the CLI)."""

    arch: str
    data: Path
    out: str
    model_dir: Path
    epochs: int = 10
    val: Path | None = None
    lr: float | None = None  # default: DEFAULT_LR[arch]
    backbone_lr_scale: float = 0.1
    freeze_backbone: bool = False
    batch_size: int = 4
    size: int | None = None  # default: DEFAULT_SIZE[arch]
    init: str = "auto"
    head_from_voc: bool = False
    augment: bool = True
    repeat: int = 1
    val_fraction: float = 0.1
    weight_decay: float = 1e-4
    workers: int = 0
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    progress: bool = True
    cache_images: bool = False

    def __post_init__(self) -> None:
        check_arch(self.arch)
        check_weights_name(self.out)
        self.data, self.model_dir = Path(self.data), Path(self.model_dir)
        self.val = Path(self.val) if self.val else None
        self.lr = float(self.lr if self.lr is not None else DEFAULT_LR[self.arch])
        self.size = int(self.size or DEFAULT_SIZE[self.arch])
        if self.arch == SELFIE_ARCH and self.size % 16:
            raise ValueError("the selfie network needs a size divisible by 16")
        if self.epochs < 1 or self.batch_size < 1 or self.size < 32:
            raise ValueError("epochs and batch size must be >= 1, size >= 32")


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    train_iou: float
    val_loss: float
    val_iou: float
    val_miou: float
    lr: float
    seconds: float


@dataclass
class TrainResult:
    weights_path: Path
    checkpoint_path: Path
    history: list[EpochStats] = field(default_factory=list)
    best_val_iou: float = float("nan")
    source: str = ""


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when available (``auto``), else CPU; or exactly ``device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@dataclass
class _Run:
    """What one training run carries between epochs."""

    model: TrainableModel
    source: str
    optimizer: torch.optim.Optimizer
    train_set: PairDataset
    val_set: PairDataset
    device: torch.device
    history: list[EpochStats] = field(default_factory=list)
    best: float = -1.0
    start_epoch: int = 0


def train(config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) as ``config`` says; returns the weights path and per-epoch figures."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    train_samples, val_samples = _split_data(config, device, log)
    ckpt_path = checkpoint_path(config.model_dir, config.arch, config.out)
    checkpoint = _load_checkpoint(ckpt_path, config) if config.resume else None
    model, source = _starting_model(config, checkpoint, log)
    model.to(device)
    run = _Run(
        model=model,
        source=source,
        optimizer=_optimizer(model, config),
        train_set=PairDataset(
            train_samples,
            size=config.size,
            augmentation=Augmentation() if config.augment else None,
            seed=config.seed,
            repeat=config.repeat,
            cache=config.cache_images,
        ),
        val_set=PairDataset(val_samples, size=config.size, cache=config.cache_images),
        device=device,
    )
    if checkpoint is not None:
        _restore(run, checkpoint)
        log(f"resuming after epoch {run.start_epoch} of {config.epochs}")

    weights_path = weights_file(config.model_dir, config.arch, config.out)
    generator = torch.Generator().manual_seed(config.seed)
    for epoch in range(run.start_epoch, config.epochs):
        stats = _train_epoch(run, config, epoch, generator)
        run.history.append(stats)
        improved = stats.val_iou > run.best
        if improved:
            run.best = stats.val_iou
            _export_best(run, config, stats, weights_path)
        _save_checkpoint(ckpt_path, run, config, epoch)
        log(
            f"epoch {epoch + 1}/{config.epochs}: loss {stats.train_loss:.4f}, train IoU "
            f"{stats.train_iou:.4f}, val loss {stats.val_loss:.4f}, val IoU {stats.val_iou:.4f} "
            f"(mIoU {stats.val_miou:.4f}){' *' if improved else ''}, {stats.seconds:.1f} s"
        )
    if not weights_path.is_file():
        raise WeightsMissing(f"training produced no weights at {weights_path}")
    return TrainResult(weights_path, ckpt_path, run.history, run.best, source)


def _restore(run: _Run, checkpoint: dict[str, Any]) -> None:
    """Continue ``run`` where ``checkpoint`` stopped: optimiser, history, best IoU, epoch."""
    run.optimizer.load_state_dict(checkpoint["optimizer"])
    run.history = [EpochStats(**row) for row in checkpoint["history"]]
    run.best = float(checkpoint["best_val_iou"])
    run.start_epoch = int(checkpoint["epoch"]) + 1


def _split_data(
    config: TrainConfig, device: torch.device, log: Callable[[str], None]
) -> tuple[list[Sample], list[Sample]]:
    """(training, validation) samples as ``config`` says, logged."""
    samples = find_samples(config.data)
    if config.val is not None:
        train_samples, val_samples, val_note = samples, find_samples(config.val), str(config.val)
    else:
        train_samples, val_samples = split_samples(samples, config.val_fraction, config.seed)
        val_note = f"{len(val_samples)} held out of {config.data}"
        if not val_samples:
            val_samples, val_note = samples, "the training images (no --val, < 10 samples)"
    log(
        f"{config.arch}: {len(train_samples)} training pairs, validation on {val_note}; "
        f"size {config.size}, batch {config.batch_size}, device {device}"
    )
    return train_samples, val_samples


def _load_checkpoint(path: Path, config: TrainConfig) -> dict[str, Any]:
    """The checkpoint to resume from; :class:`WeightsMissing` if absent or of another kind."""
    if not path.is_file():
        raise WeightsMissing(f"nothing to resume: {path} not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("version") != CHECKPOINT_VERSION or checkpoint.get("arch") != config.arch:
        raise WeightsMissing(f"{path} is not a {config.arch} checkpoint of this version")
    return checkpoint


def _starting_model(
    config: TrainConfig, checkpoint: dict[str, Any] | None, log: Callable[[str], None]
) -> tuple[TrainableModel, str]:
    """The model to train (the checkpoint's state when resuming) and where it came from."""
    model, source = build_trainable(
        config.arch,
        model_dir=config.model_dir,
        init="random" if checkpoint is not None else config.init,
        head_from_voc=config.head_from_voc,
        log=log,
    )
    if checkpoint is not None:
        if checkpoint.get("freeze_bn_stats") is not None and isinstance(
            model, TorchvisionTrainable
        ):
            model.freeze_bn_stats = bool(checkpoint["freeze_bn_stats"])
        model.load_state_dict(checkpoint["model"])
        source = checkpoint.get("source", source)
    log(f"starting from {source}")
    return model, source


def _optimizer(model: TrainableModel, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the head (``lr``) and, unless frozen, the backbone (``lr`` times
    ``backbone_lr_scale``)."""
    if config.freeze_backbone:
        model.backbone().requires_grad_(False)
        groups = [{"params": model.head_parameters(), "lr_scale": 1.0}]
    else:
        groups = [
            {"params": model.head_parameters(), "lr_scale": 1.0},
            {"params": list(model.backbone().parameters()), "lr_scale": config.backbone_lr_scale},
        ]
    for group in groups:
        group["lr"] = config.lr * group["lr_scale"]
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


def _train_epoch(
    run: _Run, config: TrainConfig, epoch: int, generator: torch.Generator
) -> EpochStats:
    """One pass over the training set (cosine learning rate), then validation."""
    started = time.perf_counter()
    model, device = run.model, run.device
    lr = config.lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))  # cosine
    for group in run.optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]
    run.train_set.set_epoch(epoch)
    generator.manual_seed(config.seed * 7919 + epoch)
    loader = torch.utils.data.DataLoader(
        run.train_set,
        shuffle=True,
        drop_last=False,
        generator=generator,
        batch_size=config.batch_size,
        num_workers=config.workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    model.train()
    if config.freeze_backbone:
        model.backbone().eval()
    loss_sum, seen, counts = 0.0, 0, torch.zeros(2, dtype=torch.float64)
    desc = f"epoch {epoch + 1}/{config.epochs}"
    bar = progress_bar(loader, total=len(loader), desc=desc, enabled=config.progress)
    for images, targets in bar:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        loss = model.loss(logits, targets)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        loss_sum += float(loss.detach()) * images.shape[0]
        seen += images.shape[0]
        with torch.no_grad():
            counts += iou_counts(model.person_probability(logits), targets[:, 0])
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
    bar.close()
    val_loss, val_iou, val_miou = evaluate_model(
        model, run.val_set, device=device, batch_size=config.batch_size
    )
    return EpochStats(
        epoch=epoch + 1,
        train_loss=loss_sum / max(seen, 1),
        train_iou=iou_ratio(counts),
        val_loss=val_loss,
        val_iou=val_iou,
        val_miou=val_miou,
        lr=lr,
        seconds=time.perf_counter() - started,
    )


def _export_best(run: _Run, config: TrainConfig, stats: EpochStats, path: Path) -> None:
    """Write the weights file of the best epoch so far (with its figures as metadata)."""
    export_weights(
        run.model,
        path,
        size=config.size,
        source=run.source,
        meta={
            "epoch": stats.epoch,
            "val_iou": stats.val_iou,
            "val_miou": stats.val_miou,
            "train_loss": stats.train_loss,
            "trained_on": str(config.data),
        },
    )


def _save_checkpoint(path: Path, run: _Run, config: TrainConfig, epoch: int) -> None:
    atomic_save(
        {
            "version": CHECKPOINT_VERSION,
            "arch": config.arch,
            "epoch": epoch,
            "model": run.model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "history": [asdict(row) for row in run.history],
            "best_val_iou": run.best,
            "source": run.source,
            "freeze_bn_stats": getattr(run.model, "freeze_bn_stats", None),
            "config": {k: str(v) for k, v in asdict(config).items()},
        },
        path,
    )
