"""torchvision segmentation architectures as plain ``nn.Module`` builders (weights apart).

FCN-ResNet101, DeepLabV3-ResNet50 and LR-ASPP-MobileNetV3: built without weights, their
final classifier convolution(s) named, a state dict checked against them, a head replaced
for transfer learning. torchvision itself is imported only inside :func:`build_model`, so
importing this module costs torch only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .errors import SegmentationError
from .weights.catalog import check_torchvision_arch

# Final 1x1 classifier convolution(s) of each architecture (replaced by a new binary head).
CLASSIFIER_LAYERS: dict[str, tuple[str, ...]] = {
    "fcn_resnet101": ("classifier.4",),
    "deeplabv3_resnet50": ("classifier.4",),
    "lraspp_mobilenet_v3_large": ("classifier.low_classifier", "classifier.high_classifier"),
}


def builder_options(arch: str, *, num_classes: int) -> dict[str, Any]:
    """Keyword arguments for torchvision's builder of ``arch``: no weights, no auxiliary
    head (LR-ASPP has none to turn off)."""
    options: dict[str, Any] = {"weights": None, "weights_backbone": None}
    options["num_classes"] = num_classes
    if arch != "lraspp_mobilenet_v3_large":
        options["aux_loss"] = False
    return options


def build_model(arch: str, *, num_classes: int) -> nn.Module:
    """A randomly initialised torchvision segmentation model (no auxiliary head), eval mode."""
    from torchvision.models import segmentation

    check_torchvision_arch(arch)
    return getattr(segmentation, arch)(**builder_options(arch, num_classes=num_classes)).eval()


def classifier_layers(model: nn.Module, arch: str) -> list[tuple[str, nn.Conv2d]]:
    """(name, layer) of the final classifier convolution(s) of ``model``."""
    return [(name, model.get_submodule(name)) for name in CLASSIFIER_LAYERS[arch]]


def num_classes_of(state: Mapping[str, torch.Tensor], arch: str) -> int:
    """Number of output classes of a state dict of ``arch``."""
    key = f"{CLASSIFIER_LAYERS[check_torchvision_arch(arch)][0]}.weight"
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
    """Build the model of a weights payload (:mod:`.weights.files`) and load its state
    (eval mode)."""
    model = build_model(payload["arch"], num_classes=int(payload["num_classes"]))
    return load_state(model, payload["state_dict"]).eval()
