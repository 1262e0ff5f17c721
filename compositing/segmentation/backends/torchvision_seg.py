"""torchvision segmentation backends: ``fcn_resnet101`` (the original report's model),
``deeplabv3_resnet50`` and ``lraspp_mobilenet_v3_large``, behind the engine's ``segment()``.

Weights (see :mod:`..trained_weights` for the file format and names):

- torchvision's published 21-class COCO-with-VOC-labels weights (``ARCH`` alone, stored as
  ``<model_dir>/ARCH/coco_voc.pt`` by ``fetch_model --torchvision ARCH`` or ``fetch_model
  --import``): the person probability is the softmax probability of VOC class 15;
- a transfer-learned 2-class head (``ARCH:NAME``, from ``train_segmenter``): class 1.

Pipeline for one photo (uint8 HxWx3): resize so the shorter side is ``input_size`` pixels
(520 for the published weights, as torchvision's own preset does; antialiased bilinear),
normalise with ImageNet mean/std, run the network (its output is already upsampled to the
input size), softmax → person probability; almost no person → all-zero alpha; then the
engine's edge-aware refinement (colour guided filter guided by the full-resolution photo)
to the photo's resolution, or a plain bilinear stretch (``refine="bilinear"``).

torchvision is imported only inside this module's functions, so the default engine never
loads it.
"""

from __future__ import annotations

import threading
import urllib.error
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SegmentationError, WeightsError
from ..refine import GuidedFilterParams, refine_guided, upsample_bilinear
from ..registry import EngineConfig
from ..segmenter import Segmenter
from ..trained_weights import (
    PUBLISHED_WEIGHTS,
    SELFIE_ARCH,
    TORCHVISION_ARCHS,
    VOC_PERSON_CLASS,
    check_arch,
    check_weights_name,
    load_named_weights,
    load_weights_file,
    model_label,
    plain_state_dict,
    save_weights,
    weights_file,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_INPUT_SIZE = 520  # torchvision's SemanticSegmentation preset: resize_size=[520]
# The long side is capped at this multiple of the short side (panoramas stay affordable).
MAX_ASPECT = 4.0

# Final 1x1 classifier convolution(s) of each architecture (replaced by a new binary head).
_CLASSIFIER_LAYERS: dict[str, tuple[str, ...]] = {
    "fcn_resnet101": ("classifier.4",),
    "deeplabv3_resnet50": ("classifier.4",),
    "lraspp_mobilenet_v3_large": ("classifier.low_classifier", "classifier.high_classifier"),
}
_WEIGHTS_ENUMS = {
    "fcn_resnet101": "FCN_ResNet101_Weights",
    "deeplabv3_resnet50": "DeepLabV3_ResNet50_Weights",
    "lraspp_mobilenet_v3_large": "LRASPP_MobileNet_V3_Large_Weights",
}
_BACKBONE_ENUMS = {
    "fcn_resnet101": "ResNet101_Weights",
    "deeplabv3_resnet50": "ResNet50_Weights",
    "lraspp_mobilenet_v3_large": "MobileNet_V3_Large_Weights",
}


def check_torchvision_arch(arch: str) -> str:
    check_arch(arch)
    if arch not in TORCHVISION_ARCHS:
        raise SegmentationError(f"{arch!r} is not a torchvision architecture")
    return arch


# ----------------------------------------------------------------------------- models


def build_model(arch: str, *, num_classes: int) -> nn.Module:
    """A randomly initialised torchvision segmentation model (no auxiliary head), eval mode."""
    from torchvision.models import segmentation

    check_torchvision_arch(arch)
    kwargs: dict[str, Any] = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
    if arch != "lraspp_mobilenet_v3_large":
        kwargs["aux_loss"] = False
    return getattr(segmentation, arch)(**kwargs).eval()


def classifier_layers(model: nn.Module, arch: str) -> list[tuple[str, nn.Conv2d]]:
    """(name, layer) of the final classifier convolution(s) of ``model``."""
    return [(name, model.get_submodule(name)) for name in _CLASSIFIER_LAYERS[arch]]


def num_classes_of(state: Mapping[str, torch.Tensor], arch: str) -> int:
    """Number of output classes of a state dict of ``arch``."""
    key = f"{_CLASSIFIER_LAYERS[check_torchvision_arch(arch)][0]}.weight"
    if key not in state:
        raise SegmentationError(f"not a {arch} state dict: {key} is missing")
    return int(state[key].shape[0])


def load_state(model: nn.Module, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load ``state`` strictly, ignoring an auxiliary classifier (training-only in torchvision)."""
    state = {key: value for key, value in state.items() if not key.startswith("aux_classifier.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise SegmentationError(
            f"weights do not fit {type(model).__name__}: {' '.join(first[:3])}"
        ) from exc
    return model


def replace_head(
    model: nn.Module, arch: str, *, num_classes: int = 2, keep_rows: tuple[int, ...] | None = None
) -> nn.Module:
    """Give ``model`` a new ``num_classes``-way classifier (in place; returned).

    ``keep_rows``: initialise the new head from these rows of the old one (e.g. ``(0, 15)``:
    VOC background and person, a head that starts where the 21-class model stands);
    otherwise the new layers get PyTorch's default random initialisation.
    """
    for name, old in classifier_layers(model, arch):
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, bias=old.bias is not None)
        if keep_rows is not None:
            if len(keep_rows) != num_classes:
                raise ValueError("keep_rows must name one old class per new class")
            with torch.no_grad():
                new.weight.copy_(old.weight[list(keep_rows)])
                if new.bias is not None and old.bias is not None:
                    new.bias.copy_(old.bias[list(keep_rows)])
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
    return model


def model_from_payload(payload: Mapping[str, Any]) -> nn.Module:
    """Build the model of a weights payload and load its state (eval mode)."""
    model = build_model(payload["arch"], num_classes=int(payload["num_classes"]))
    return load_state(model, payload["state_dict"]).eval()


def network_input(rgb: torch.Tensor, size: int, *, max_aspect: float = MAX_ASPECT) -> torch.Tensor:
    """uint8 HxWx3 → float32 1x3xhxw, shorter side ``size`` (aspect kept, long side capped
    at ``max_aspect``·size), ImageNet-normalised, channels-last."""
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_h = max(1, min(round(height * scale), round(max_aspect * size)))
    new_w = max(1, min(round(width * scale), round(max_aspect * size)))
    image = rgb.permute(2, 0, 1).unsqueeze(0)
    if not image.is_contiguous(memory_format=torch.channels_last):
        image = image.contiguous(memory_format=torch.channels_last)
    if (new_h, new_w) != (height, width):
        image = F.interpolate(
            image, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False
        )
    x = image.float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std)


# ------------------------------------------------------------------- getting weights


def import_state_dict(
    state: Mapping[str, torch.Tensor],
    *,
    model_dir: Path | str,
    arch: str,
    name: str,
    source: str,
    person_class: int | None = None,
    input_size: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Check ``state`` against ``arch`` and store it as ``<model_dir>/<arch>/<name>.pt``.

    21-class (COCO/VOC) weights get person class 15, 2-class ones class 1, unless
    ``person_class`` says otherwise.
    """
    check_torchvision_arch(arch)
    check_weights_name(name)
    classes = num_classes_of(state, arch)
    if person_class is None:
        if classes == 21:
            person_class = VOC_PERSON_CLASS
        elif classes == 2:
            person_class = 1
        else:
            raise SegmentationError(
                f"{classes}-class {arch} weights: say which class is the person"
            )
    if not 0 <= person_class < classes:
        raise SegmentationError(f"person class {person_class} out of range for {classes} classes")
    model = load_state(build_model(arch, num_classes=classes), state)
    return save_weights(
        weights_file(model_dir, arch, name),
        arch=arch,
        state_dict=model.state_dict(),
        num_classes=classes,
        person_class=person_class,
        input_size=input_size or DEFAULT_INPUT_SIZE,
        source=source,
        meta=meta,
    )


def import_checkpoint(
    path: Path | str,
    *,
    model_dir: Path | str,
    arch: str,
    name: str,
    person_class: int | None = None,
) -> Path:
    """Import a weights file a user already has as ``ARCH:NAME``; returns the stored path.

    ``path`` may be torchvision's own format (a bare state dict, e.g. a published
    ``fcn_resnet101_coco-*.pth``, auxiliary head included or not), a checkpoint holding the
    state under ``state_dict``/``model``, or one of our weights files (a 2-class fine-tune,
    also ``arch="selfie"``). Raises :class:`SegmentationError` with a one-line reason.
    """
    path = Path(path)
    check_arch(arch)
    check_weights_name(name)
    if not path.is_file():
        raise SegmentationError(f"{path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SegmentationError(f"{path} is not a readable torch checkpoint: {reason}") from exc
    if isinstance(checkpoint, Mapping) and checkpoint.get("format") is not None:
        payload = load_weights_file(path)  # ours: validate, then copy under the new name
        if payload["arch"] != arch:
            raise SegmentationError(f"{path} holds {payload['arch']} weights, not {arch}")
        if arch == SELFIE_ARCH:
            from ..selfie_net import selfie_segmentation_net

            selfie_segmentation_net(payload["state_dict"])  # raises if it does not fit
        else:
            model_from_payload(payload)  # raises if the state does not fit
        return save_weights(
            weights_file(model_dir, arch, name),
            arch=arch,
            state_dict=payload["state_dict"],
            num_classes=payload["num_classes"],
            person_class=payload["person_class"],
            input_size=payload["input_size"],
            source=payload.get("source", str(path)),
            meta={**payload.get("meta", {}), "imported_from": path.name},
        )
    state = plain_state_dict(checkpoint)
    if arch == SELFIE_ARCH:
        from ..selfie_net import selfie_segmentation_net

        try:
            selfie_segmentation_net(state)
        except RuntimeError as exc:
            raise SegmentationError(f"{path} does not fit the selfie network") from exc
        return save_weights(
            weights_file(model_dir, arch, name),
            arch=arch,
            state_dict=state,
            num_classes=1,
            person_class=0,
            input_size=256,
            source=f"import:{path.name}",
        )
    return import_state_dict(
        state,
        model_dir=model_dir,
        arch=arch,
        name=name,
        source=f"import:{path.name}",
        person_class=person_class,
    )


def published_weights_url(arch: str) -> str:
    """Download URL of torchvision's COCO/VOC weights for ``arch``."""
    from torchvision.models import segmentation

    return getattr(
        segmentation, _WEIGHTS_ENUMS[check_torchvision_arch(arch)]
    ).COCO_WITH_VOC_LABELS_V1.url


def fetch_published(
    arch: str,
    *,
    model_dir: Path | str,
    progress: bool = True,
    force: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """Download torchvision's published COCO/VOC weights for ``arch`` (through torch's hub
    cache, hash-checked) and store them as ``<model_dir>/<arch>/coco_voc.pt``.

    Quick when already stored. Raises :class:`WeightsError` with a one-line reason when the
    download server is unreachable (no internet) or the download is corrupt.
    """
    from torchvision.models import segmentation

    check_torchvision_arch(arch)
    target = weights_file(model_dir, arch, PUBLISHED_WEIGHTS)
    if target.is_file() and not force:
        try:
            load_weights_file(target, arch=arch)
            log(f"{arch} published weights already in {target}")
            return target
        except SegmentationError:
            pass
    weights = getattr(segmentation, _WEIGHTS_ENUMS[arch]).COCO_WITH_VOC_LABELS_V1
    log(f"downloading {weights.url} ...")
    try:
        state = weights.get_state_dict(progress=progress, check_hash=True)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"cannot download torchvision's {arch} weights from {weights.url} "
            f"(no internet access?): {reason}"
        ) from exc
    except RuntimeError as exc:  # hash mismatch / truncated file
        raise WeightsError(f"torchvision's {arch} weights are corrupt: {exc}") from exc
    path = import_state_dict(
        state,
        model_dir=model_dir,
        arch=arch,
        name=PUBLISHED_WEIGHTS,
        source=weights.url,
        meta={"metrics": dict(weights.meta.get("_metrics", {}))},
    )
    log(f"stored {arch} published weights in {path}")
    return path


def backbone_weights_state(arch: str, *, progress: bool = True) -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ``arch``'s backbone (downloaded; hub cache), as
    a state dict for ``model.backbone`` (torchvision's own key mapping). Raises
    :class:`WeightsError` when unreachable."""
    from torchvision.models import segmentation

    check_torchvision_arch(arch)
    import torchvision.models as models

    enum = getattr(models, _BACKBONE_ENUMS[arch]).IMAGENET1K_V1
    try:
        # Let torchvision build the model with that backbone: it knows which layers it keeps.
        kwargs: dict[str, Any] = {"weights": None, "weights_backbone": enum, "num_classes": 2}
        if arch != "lraspp_mobilenet_v3_large":
            kwargs["aux_loss"] = False
        model = getattr(segmentation, arch)(progress=progress, **kwargs)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"cannot download torchvision's ImageNet backbone for {arch} from {enum.url} "
            f"(no internet access?): {reason}"
        ) from exc
    return model.backbone.state_dict()


# ------------------------------------------------------------------------- segmenter


class TorchvisionSegmenter(Segmenter):
    """A torchvision segmentation network with published or fine-tuned weights.

    Options: ``arch`` (required), ``weights`` (a weights name, default the published
    ``coco_voc``), ``input_size`` (shorter side in px; default: the one stored with the
    weights), ``refine`` ("guided" or "bilinear"), ``guided`` (GuidedFilterParams or a
    dict of its fields), ``person_threshold`` and ``min_person_fraction`` (below this share
    of person pixels the photo has no person: all-zero alpha).
    """

    def __init__(
        self,
        *,
        name: str,
        config: EngineConfig,
        arch: str,
        weights: str = PUBLISHED_WEIGHTS,
        input_size: int | None = None,
        refine: Literal["guided", "bilinear"] = "guided",
        guided: GuidedFilterParams | Mapping[str, float] | None = None,
        person_threshold: float = 0.5,
        min_person_fraction: float = 0.0005,
    ) -> None:
        check_torchvision_arch(arch)
        payload = load_named_weights(config.model_dir, arch, weights)
        self.name = name
        self.arch = arch
        self.weights = weights
        self.label = model_label(arch, weights)
        self.person_class = int(payload["person_class"])
        self.input_size = int(input_size or payload.get("input_size") or DEFAULT_INPUT_SIZE)
        if refine not in ("guided", "bilinear"):
            raise ValueError(f"refine must be 'guided' or 'bilinear', not {refine!r}")
        self.refine = refine
        # The probability map is ~2x the selfie network's 256 px: a wider radius in its
        # pixels covers the same share of the photo (not tuned: see the module notes).
        params = GuidedFilterParams(radius=4.0)
        if isinstance(guided, GuidedFilterParams):
            params = guided
        elif guided:
            params = replace(params, **dict(guided))
        self.guided = params
        self.person_threshold = person_threshold
        self.min_person_fraction = min_person_fraction
        model = model_from_payload(payload)
        model.requires_grad_(False)
        self.model = model.to(memory_format=torch.channels_last)
        self._inference_lock = threading.Lock()

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(height, width) :func:`network_input` resizes to: shorter side ``input_size``, the
        longer one capped at ``MAX_ASPECT`` times that."""
        scale = self.input_size / min(height, width)
        cap = round(MAX_ASPECT * self.input_size)
        return max(1, min(round(height * scale), cap)), max(1, min(round(width * scale), cap))

    @torch.inference_mode()
    def probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Person probability (float32 hxw at the network's input size) of uint8 HxWx3."""
        x = network_input(rgb, self.input_size)
        with self._inference_lock:
            logits = self.model(x)["out"]
        return torch.softmax(logits, dim=1)[0, self.person_class].contiguous()

    @torch.inference_mode()
    def segment_rgb(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        alpha = np.zeros((height, width), dtype=np.float32)
        with warnings.catch_warnings():  # PIL-backed arrays are read-only; never written
            warnings.simplefilter("ignore", UserWarning)
            photo = torch.from_numpy(rgb)
        prob = self.probability(photo)
        person = int((prob >= self.person_threshold).sum())
        if person < self.min_person_fraction * prob.numel():
            return alpha
        out = torch.from_numpy(alpha)
        if self.refine == "bilinear":
            upsample_bilinear(prob, out)
        else:
            refine_guided(photo, prob, self.guided, out)
        return alpha
