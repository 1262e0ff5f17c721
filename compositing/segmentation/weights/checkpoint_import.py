"""Importing weights a user already has as ``ARCH:NAME`` (``fetch_model --import``).

Accepted: torchvision's own format (a bare state dict such as a published
``fcn_resnet101_coco-*.pth``, auxiliary head or not), a training checkpoint holding the
state under ``state_dict``/``model``, or one of our weights files (:mod:`.files`). Every
import is checked against the network before it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import SegmentationError
from ..selfie_net import selfie_segmentation_net
from ..torchvision_nets import build_model, load_state, model_from_payload, num_classes_of
from .catalog import (
    DEFAULT_INPUT_SIZE,
    SELFIE_ARCH,
    SELFIE_INPUT_SIZE,
    VOC_PERSON_CLASS,
    check_arch,
    check_torchvision_arch,
    check_weights_name,
    weights_file,
)
from .files import load_weights_file, plain_state_dict, save_weights


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
    """Check torchvision ``state`` against ``arch``; store it as ``<model_dir>/<arch>/<name>.pt``.

    21-class (COCO/VOC) weights get person class 15, 2-class ones class 1, unless
    ``person_class`` says otherwise.
    """
    check_torchvision_arch(arch)
    check_weights_name(name)
    classes = num_classes_of(state, arch)
    if person_class is None:
        person_class = {21: VOC_PERSON_CLASS, 2: 1}.get(classes)
        if person_class is None:
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

    ``arch`` may be ``"selfie"`` (our file or a bare state dict of the selfie network).
    Raises :class:`SegmentationError` with a one-line reason.
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
    target = weights_file(model_dir, arch, name)
    if isinstance(checkpoint, Mapping) and checkpoint.get("format") is not None:
        return _copy_ours(path, target, arch)
    state = plain_state_dict(checkpoint)
    if arch == SELFIE_ARCH:
        try:
            selfie_segmentation_net(state)
        except RuntimeError as exc:
            raise SegmentationError(f"{path} does not fit the selfie network") from exc
        return save_weights(
            target,
            arch=arch,
            state_dict=state,
            num_classes=1,
            person_class=0,
            input_size=SELFIE_INPUT_SIZE,
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


def _copy_ours(path: Path, target: Path, arch: str) -> Path:
    """One of our weights files: validate it against ``arch``, store it under ``target``."""
    payload = load_weights_file(path)
    if payload["arch"] != arch:
        raise SegmentationError(f"{path} holds {payload['arch']} weights, not {arch}")
    if arch == SELFIE_ARCH:
        selfie_segmentation_net(payload["state_dict"])  # raises if it does not fit
    else:
        model_from_payload(payload)  # raises if the state does not fit
    return save_weights(
        target,
        arch=arch,
        state_dict=payload["state_dict"],
        num_classes=payload["num_classes"],
        person_class=payload["person_class"],
        input_size=payload["input_size"],
        source=payload.get("source", str(path)),
        meta={**payload.get("meta", {}), "imported_from": path.name},
    )
