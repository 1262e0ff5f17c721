"""Transfer learning for person segmentation (pure torch; no Django).

As in the report this project grew from: start from a pretrained network, give it a new
binary person head, train with cross-entropy (the selfie network, which already has a
single person output, with binary cross-entropy), keep the pretrained backbone frozen or at
a low learning rate, and threshold the output to a mask.

Data (:func:`find_samples`): a directory of flat ``NAME.jpg`` + ``NAME.png`` pairs (mask
0..255, ≥128 = person; soft mattes allowed), or the AISegment "Matting Human" layout
``clip_img/**/NAME.jpg`` with ``matting/**/NAME.png`` RGBA mattes (alpha ≥ 128 = person).

Each epoch: augmented training pass (random resized crop, horizontal flip, colour jitter),
then validation loss and IoU (``--val`` directory, else a held-out 10 % of the data, else the
training images without augmentation), a checkpoint (model, optimiser, history: ``resume``
continues from it) and, when validation IoU improved, the weights file
``<model_dir>/<arch>/<name>.pt`` that ``get_segmenter("ARCH:NAME")`` loads.

Shapes: images float32 Nx3xSxS in 0..1 (normalised by each model adapter), targets float32
Nx1xSxS in 0..1 (soft), logits NxCxSxS.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .errors import SegmentationError, WeightsError, WeightsMissing
from .image_input import image_to_rgb
from .trained_weights import (
    PUBLISHED_WEIGHTS,
    SELFIE_ARCH,
    TORCHVISION_ARCHS,
    atomic_save,
    check_arch,
    check_weights_name,
    load_named_weights,
    save_weights,
    weights_file,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".webp")
CHECKPOINT_VERSION = 1

# Defaults per architecture: crop size (px), learning rate of the head.
DEFAULT_SIZE = {SELFIE_ARCH: 256, **dict.fromkeys(TORCHVISION_ARCHS, 320)}
DEFAULT_LR = {SELFIE_ARCH: 1e-4, **dict.fromkeys(TORCHVISION_ARCHS, 1e-3)}


# =============================================================================== data


@dataclass(frozen=True)
class Sample:
    """One training pair: a photo and its person mask (or AISegment matte)."""

    photo: Path
    mask: Path


def find_samples(directory: Path | str) -> list[Sample]:
    """Pairs in ``directory``, sorted by photo path.

    AISegment layout when ``directory/clip_img`` and ``directory/matting`` exist: each
    ``clip_img/**/NAME.jpg`` pairs with the ``matting/**/NAME.png`` of the same stem (where
    stems repeat, the one whose path matches with ``clip_`` → ``matting_``). Otherwise flat
    ``NAME.jpg`` (or ``.jpeg``/``.webp``) + ``NAME.png``. Photos without a mask are skipped.
    Raises :class:`FileNotFoundError` when no pair is found.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    clips, mattes = directory / "clip_img", directory / "matting"
    if clips.is_dir() and mattes.is_dir():
        samples = _aisegment_samples(clips, mattes)
        layout = "AISegment clip_img/**/*.jpg + matting/**/*.png"
    else:
        samples = []
        for mask in sorted(directory.glob("*.png")):
            for suffix in _PHOTO_SUFFIXES:
                photo = mask.with_suffix(suffix)
                if photo.is_file():
                    samples.append(Sample(photo, mask))
                    break
        layout = "NAME.jpg + NAME.png pairs"
    if not samples:
        raise FileNotFoundError(f"no training pairs in {directory} (expected {layout})")
    return samples


def _aisegment_samples(clips: Path, mattes: Path) -> list[Sample]:
    by_stem: dict[str, list[Path]] = {}
    for matte in mattes.rglob("*.png"):
        by_stem.setdefault(matte.stem, []).append(matte)
    samples = []
    for photo in sorted(p for p in clips.rglob("*") if p.suffix.lower() in _PHOTO_SUFFIXES):
        candidates = by_stem.get(photo.stem, [])
        if len(candidates) > 1:
            relative = photo.relative_to(clips).with_suffix(".png")
            wanted = mattes / Path(*(part.replace("clip_", "matting_") for part in relative.parts))
            candidates = [c for c in candidates if c == wanted] or candidates[:1]
        if candidates:
            samples.append(Sample(photo, candidates[0]))
    return samples


def read_photo(path: Path) -> np.ndarray:
    """uint8 HxWx3 RGB, EXIF orientation applied."""
    with Image.open(path) as image:
        image.load()
        return image_to_rgb(image)


def read_mask(path: Path) -> np.ndarray:
    """uint8 HxW person mask 0..255: the alpha channel of an RGBA/LA image (AISegment's
    mattes) unless it is fully opaque everywhere, else the grey level."""
    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return np.ascontiguousarray(alpha)
        return np.asarray(image.convert("L"))


@dataclass(frozen=True)
class Augmentation:
    """Random resized crop (``scale``: share of the photo's area; ``ratio``: crop aspect
    w/h), horizontal flip, colour jitter (factors drawn from 1 ± value; ``hue`` in turns)."""

    scale: tuple[float, float] = (0.35, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.25
    hue: float = 0.03


class PairDataset(torch.utils.data.Dataset):
    """Samples as (image float32 3xSxS in 0..1, target float32 1xSxS in 0..1).

    With ``augmentation`` each item is a random resized crop (deterministic per seed, epoch
    and index, so runs and resumes repeat); without, the whole photo resized to SxS (the
    selfie network also sees the whole photo squeezed to its square input).
    ``repeat`` lists every sample that many times per epoch (tiny data sets).
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        size: int,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        repeat: int = 1,
        cache: bool = False,
    ) -> None:
        if not samples:
            raise ValueError("no samples")
        self.samples = list(samples)
        self.size = int(size)
        self.augmentation = augmentation
        self.seed = seed
        self.repeat = max(1, int(repeat))
        self.epoch = 0
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = {} if cache else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples) * self.repeat

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Photo uint8 3xHxW and mask uint8 1xHxW of sample ``index`` (same size)."""
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        sample = self.samples[index]
        photo = read_photo(sample.photo)
        mask = read_mask(sample.mask)
        if mask.shape != photo.shape[:2]:
            mask = np.asarray(
                Image.fromarray(mask).resize((photo.shape[1], photo.shape[0]), Image.BILINEAR)
            )
        pair = (
            torch.from_numpy(np.array(photo)).permute(2, 0, 1).contiguous(),
            torch.from_numpy(np.array(mask))[None],
        )
        if self._cache is not None:
            self._cache[index] = pair
        return pair

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = item % len(self.samples)
        photo, mask = self.load(index)
        if self.augmentation is None:
            return _resize(photo, self.size, self.size), _resize(mask, self.size, self.size)
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + self.epoch * 10_007 + item) % (2**63)
        )
        return augment(photo, mask, self.size, self.augmentation, generator)


def _resize(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """uint8 Cxhxw → float32 Cxheightxwidth in 0..1 (antialiased bilinear)."""
    x = image[None].float()
    if tuple(image.shape[1:]) != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True)
    return x[0].div_(255.0).clamp_(0.0, 1.0)


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def crop_box(
    height: int, width: int, aug: Augmentation, generator: torch.Generator
) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random resized crop, as torchvision's RandomResizedCrop."""
    area = height * width
    log_ratio = (math.log(aug.ratio[0]), math.log(aug.ratio[1]))
    for _ in range(10):
        target = area * _uniform(generator, *aug.scale)
        aspect = math.exp(_uniform(generator, *log_ratio))
        w = round(math.sqrt(target * aspect))
        h = round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    side = min(height, width)  # fallback: centre square
    return (height - side) // 2, (width - side) // 2, side, side


def augment(
    photo: torch.Tensor,
    mask: torch.Tensor,
    size: int,
    aug: Augmentation,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random resized crop + flip of uint8 3xHxW / 1xHxW, colour jitter of the photo;
    returns float32 3xSxS and 1xSxS in 0..1."""
    top, left, h, w = crop_box(photo.shape[1], photo.shape[2], aug, generator)
    image = _resize(photo[:, top : top + h, left : left + w], size, size)
    target = _resize(mask[:, top : top + h, left : left + w], size, size)
    if aug.flip and float(torch.rand((), generator=generator)) < 0.5:
        image, target = image.flip(-1), target.flip(-1)
    return color_jitter(image, aug, generator), target


def color_jitter(
    image: torch.Tensor, aug: Augmentation, generator: torch.Generator
) -> torch.Tensor:
    """Brightness, contrast, saturation and hue jitter of float 3xHxW in 0..1 (in place)."""
    grey_weights = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
    if aug.brightness:
        image.mul_(_uniform(generator, 1 - aug.brightness, 1 + aug.brightness))
    if aug.contrast:
        mean = float((image * grey_weights).sum(0).mean())
        factor = _uniform(generator, 1 - aug.contrast, 1 + aug.contrast)
        image.sub_(mean).mul_(factor).add_(mean)
    if aug.saturation:
        grey = (image * grey_weights).sum(0, keepdim=True)
        factor = _uniform(generator, 1 - aug.saturation, 1 + aug.saturation)
        image.sub_(grey).mul_(factor).add_(grey)
    if aug.hue:
        # Rotate the chroma plane of YIQ by the hue angle.
        angle = 2 * math.pi * _uniform(generator, -aug.hue, aug.hue)
        to_yiq = torch.tensor(
            [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
        )
        cos, sin = math.cos(angle), math.sin(angle)
        rotate = torch.tensor([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])
        matrix = torch.linalg.inv(to_yiq) @ rotate @ to_yiq
        image = torch.einsum("ij,jhw->ihw", matrix, image)
    return image.clamp_(0.0, 1.0)


# ============================================================================== models


class TrainableModel(nn.Module):
    """A segmentation network prepared for training: ``forward`` takes images in 0..1 and
    returns logits; :meth:`loss` and :meth:`person_probability` know the output layout."""

    arch: str
    num_classes: int
    person_class: int

    def backbone(self) -> nn.Module:
        raise NotImplementedError

    def head_parameters(self) -> list[nn.Parameter]:
        backbone = {id(p) for p in self.backbone().parameters()}
        return [p for p in self.parameters() if id(p) not in backbone]

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        """NxHxW person probability from logits."""
        raise NotImplementedError

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        """The wrapped network's state dict (what the weights file holds)."""
        raise NotImplementedError


class SelfieTrainable(TrainableModel):
    """The engine's selfie network (1 logit per pixel; binary cross-entropy on soft targets)."""

    arch = SELFIE_ARCH
    num_classes = 1
    person_class = 0

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)

    def backbone(self) -> nn.Module:
        return self.network.encoder

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits, target)

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits[:, 0])

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        return self.network.state_dict()


class TorchvisionTrainable(TrainableModel):
    """A torchvision FCN/DeepLabV3/LR-ASPP with a 2-class head (cross-entropy on
    thresholded targets), ImageNet-normalised input."""

    num_classes = 2
    person_class = 1

    def __init__(self, model: nn.Module, arch: str, *, freeze_bn_stats: bool) -> None:
        super().__init__()
        self.model = model
        self.arch = arch
        self.freeze_bn_stats = freeze_bn_stats
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model((images - self.mean) / self.std)["out"]

    def train(self, mode: bool = True) -> TorchvisionTrainable:
        super().train(mode)
        if mode and self.freeze_bn_stats:
            # Pretrained BatchNorm statistics are better than those of a few-image batch.
            for module in self.backbone().modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def backbone(self) -> nn.Module:
        return self.model.backbone

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, (target[:, 0] >= 0.5).long())

    def person_probability(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.softmax(logits, dim=1)[:, self.person_class]

    def inner_state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()


def build_trainable(
    arch: str,
    *,
    model_dir: Path | str,
    init: str = "auto",
    head_from_voc: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[TrainableModel, str]:
    """The network to fine-tune and a description of where its weights came from.

    ``init``: ``auto`` (selfie: the converted MediaPipe weights; torchvision: the published
    COCO/VOC weights in the model directory if there, else torchvision's ImageNet backbone,
    downloaded), ``random``, ``imagenet`` (torchvision only), ``default`` (selfie), or the
    name of weights in ``<model_dir>/<arch>/`` (a 2-class fine-tune continues with its head;
    21-class weights get a new binary head: random, or VOC background/person rows of the old
    head with ``head_from_voc``).
    """
    check_arch(arch)
    if arch == SELFIE_ARCH:
        return _selfie_trainable(model_dir, init)
    from .backends import torchvision_seg as tv

    freeze_bn = True
    if init == "random":
        model, source = tv.build_model(arch, num_classes=2), "random initialisation"
        freeze_bn = False
    elif init == "imagenet" or (
        init == "auto" and not weights_file(model_dir, arch, PUBLISHED_WEIGHTS).is_file()
    ):
        log(f"no {arch} published weights in the model directory: trying the ImageNet backbone")
        try:
            backbone = tv.backbone_weights_state(arch)
        except WeightsError as exc:
            raise WeightsError(
                f"{exc}; import weights first (fetch_model --import FILE --arch {arch} "
                f"--name {PUBLISHED_WEIGHTS}) or train from scratch with --init random"
            ) from exc
        model = tv.build_model(arch, num_classes=2)
        model.backbone.load_state_dict(backbone)
        source = "torchvision ImageNet backbone"
    else:
        name = PUBLISHED_WEIGHTS if init == "auto" else check_weights_name(init)
        payload = load_named_weights(model_dir, arch, name)
        model = tv.model_from_payload(payload)
        source = f"{arch}:{name}"
        if payload["num_classes"] != 2 or payload["person_class"] != 1:
            keep = (0, int(payload["person_class"])) if head_from_voc else None
            tv.replace_head(model, arch, num_classes=2, keep_rows=keep)
            source += " with a new binary head" + (" (from VOC rows)" if keep else "")
    return TorchvisionTrainable(model, arch, freeze_bn_stats=freeze_bn), source


def _selfie_trainable(model_dir: Path | str, init: str) -> tuple[TrainableModel, str]:
    from .selfie_net import selfie_segmentation_net
    from .weights import SELFIE_GENERAL, load_weights

    if init == "random":
        network, source = selfie_segmentation_net(), "random initialisation"
    elif init in ("auto", "default"):
        network = selfie_segmentation_net(load_weights(SELFIE_GENERAL, Path(model_dir)))
        source = "MediaPipe selfie (general)"
    elif init == "imagenet":
        raise SegmentationError("the selfie network has no ImageNet backbone: use --init auto")
    else:
        payload = load_named_weights(model_dir, SELFIE_ARCH, check_weights_name(init))
        network, source = selfie_segmentation_net(payload["state_dict"]), f"selfie:{init}"
    return SelfieTrainable(network), source


# ============================================================================ training


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


def checkpoint_path(model_dir: Path | str, arch: str, name: str) -> Path:
    """Where ``train`` keeps its resumable checkpoint."""
    return Path(model_dir) / "checkpoints" / f"{check_arch(arch)}-{check_weights_name(name)}.ckpt"


def pick_device(device: str = "auto") -> torch.device:
    """CUDA when available (``auto``), else CPU; or exactly ``device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def split_samples(
    samples: list[Sample], fraction: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """(train, val): a seeded random ``fraction`` held out (none when fewer than 10 samples)."""
    if fraction <= 0 or len(samples) < 10:
        return samples, []
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    count = max(1, round(fraction * len(samples)))
    held = set(order[:count])
    return [s for i, s in enumerate(samples) if i not in held], [samples[i] for i in sorted(held)]


def train(config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) as ``config`` says; returns the weights path and per-epoch figures."""
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
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

    ckpt_path = checkpoint_path(config.model_dir, config.arch, config.out)
    checkpoint = None
    if config.resume:
        if not ckpt_path.is_file():
            raise WeightsMissing(f"nothing to resume: {ckpt_path} not found")
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if checkpoint.get("version") != CHECKPOINT_VERSION or checkpoint.get("arch") != config.arch:
            raise WeightsMissing(f"{ckpt_path} is not a {config.arch} checkpoint of this version")

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
    model.to(device)

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
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)

    history: list[EpochStats] = []
    best = -1.0
    start_epoch = 0
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        history = [EpochStats(**row) for row in checkpoint["history"]]
        best = float(checkpoint["best_val_iou"])
        start_epoch = int(checkpoint["epoch"]) + 1
        log(f"resuming after epoch {start_epoch} of {config.epochs}")

    train_set = PairDataset(
        train_samples,
        size=config.size,
        augmentation=Augmentation() if config.augment else None,
        seed=config.seed,
        repeat=config.repeat,
        cache=config.cache_images,
    )
    val_set = PairDataset(val_samples, size=config.size, cache=config.cache_images)
    generator = torch.Generator().manual_seed(config.seed)
    loader_args: dict[str, Any] = {
        "batch_size": config.batch_size,
        "num_workers": config.workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": False,
    }
    weights_path = weights_file(config.model_dir, config.arch, config.out)

    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        lr = config.lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))  # cosine
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        train_set.set_epoch(epoch)
        generator.manual_seed(config.seed * 7919 + epoch)
        loader = torch.utils.data.DataLoader(
            train_set, shuffle=True, drop_last=False, generator=generator, **loader_args
        )
        model.train()
        if config.freeze_backbone:
            model.backbone().eval()
        loss_sum, seen, counts = 0.0, 0, torch.zeros(2, dtype=torch.float64)
        bar = progress_bar(
            loader,
            total=len(loader),
            desc=f"epoch {epoch + 1}/{config.epochs}",
            enabled=config.progress,
        )
        for images, targets in bar:
            images, targets = images.to(device), targets.to(device)
            logits = model(images)
            loss = model.loss(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * images.shape[0]
            seen += images.shape[0]
            with torch.no_grad():
                counts += _iou_counts(model.person_probability(logits), targets[:, 0])
            bar.set_postfix(loss=f"{loss_sum / seen:.4f}")
        bar.close()
        val_loss, val_iou, val_miou = evaluate_model(
            model, val_set, device=device, batch_size=config.batch_size
        )
        stats = EpochStats(
            epoch=epoch + 1,
            train_loss=loss_sum / max(seen, 1),
            train_iou=_ratio(counts),
            val_loss=val_loss,
            val_iou=val_iou,
            val_miou=val_miou,
            lr=lr,
            seconds=time.perf_counter() - started,
        )
        history.append(stats)
        improved = val_iou > best
        if improved:
            best = val_iou
            export_weights(
                model,
                weights_path,
                size=config.size,
                source=source,
                meta={
                    "epoch": epoch + 1,
                    "val_iou": val_iou,
                    "val_miou": val_miou,
                    "train_loss": stats.train_loss,
                    "trained_on": str(config.data),
                },
            )
        atomic_save(
            {
                "version": CHECKPOINT_VERSION,
                "arch": config.arch,
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": [asdict(row) for row in history],
                "best_val_iou": best,
                "source": source,
                "freeze_bn_stats": getattr(model, "freeze_bn_stats", None),
                "config": {k: str(v) for k, v in asdict(config).items()},
            },
            ckpt_path,
        )
        log(
            f"epoch {epoch + 1}/{config.epochs}: loss {stats.train_loss:.4f}, train IoU "
            f"{stats.train_iou:.4f}, val loss {val_loss:.4f}, val IoU {val_iou:.4f} "
            f"(mIoU {val_miou:.4f}){' *' if improved else ''}, {stats.seconds:.1f} s"
        )
    if not weights_path.is_file():
        raise WeightsMissing(f"training produced no weights at {weights_path}")
    return TrainResult(weights_path, ckpt_path, history, best, source)


def export_weights(
    model: TrainableModel,
    path: Path,
    *,
    size: int,
    source: str,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s network as a weights file ``get_segmenter("ARCH:NAME")`` loads."""
    return save_weights(
        path,
        arch=model.arch,
        state_dict=model.inner_state_dict(),
        num_classes=model.num_classes,
        person_class=model.person_class,
        input_size=size,
        source=f"train_segmenter from {source}",
        meta=meta,
    )


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
            one = _iou_counts(prob[index : index + 1], targets[index : index + 1, 0])
            per_image.append(_ratio(one))
            counts += one
    model.train(was_training)
    return loss_sum / max(seen, 1), _ratio(counts), float(np.mean(per_image))


def _iou_counts(prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    predicted, truth = prob >= 0.5, target >= 0.5
    return torch.tensor(
        [float((predicted & truth).sum()), float((predicted | truth).sum())], dtype=torch.float64
    )


def _ratio(counts: torch.Tensor) -> float:
    intersection, union = float(counts[0]), float(counts[1])
    return intersection / union if union else 1.0


# ============================================================================ progress


class _SimpleBar:
    """A minimal progress bar on stderr (used when tqdm is not installed)."""

    def __init__(self, iterable: Iterable, total: int, desc: str, enabled: bool) -> None:
        self.iterable, self.total, self.desc, self.enabled = iterable, total, desc, enabled
        self.postfix = ""
        self.count = 0
        self.started = time.perf_counter()

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.count += 1
            self._draw()

    def set_postfix(self, **values: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def _draw(self) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.count / max(self.total, 1))
        elapsed = time.perf_counter() - self.started
        sys.stderr.write(
            f"\r{self.desc} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.count}/{self.total} {elapsed:.0f}s {self.postfix}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def progress_bar(iterable: Iterable, *, total: int, desc: str, enabled: bool = True) -> Any:
    """tqdm when it is installed, else a simple bar; silent when not ``enabled``."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _SimpleBar(iterable, total, desc, enabled)
    return tqdm(iterable, total=total, desc=desc, disable=not enabled, leave=False)
