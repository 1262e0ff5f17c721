"""Reading and writing weights files (torch; no torchvision, no Django).

Named weights (``<model_dir>/ARCH/NAME.pt``, see :mod:`.catalog`) are one ``torch.save``'d
dict, read with ``weights_only=True``::

    {"format": "vbg-segmentation-weights", "format_version": 1,
     "arch": "fcn_resnet101", "num_classes": 21 | 2 | 1, "person_class": 15 | 1 | 0,
     "input_size": 520,            # shorter side (px) the network sees at inference
     "source": "...",              # where the weights came from (free text)
     "meta": {...},                # training figures etc. (JSON-like)
     "state_dict": {...}}
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from ..errors import SegmentationError, WeightsMissing
from .catalog import (
    NAMED_FORMAT,
    NAMED_FORMAT_VERSION,
    PUBLISHED_WEIGHTS,
    TORCHVISION_ARCHS,
    check_arch,
    weights_file,
)


def save_weights(
    path: Path | str,
    *,
    arch: str,
    state_dict: Mapping[str, torch.Tensor],
    num_classes: int,
    person_class: int,
    input_size: int,
    source: str,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write a weights payload atomically (tensors copied to CPU, contiguous)."""
    payload = {
        "format": NAMED_FORMAT,
        "format_version": NAMED_FORMAT_VERSION,
        "arch": check_arch(arch),
        "num_classes": int(num_classes),
        "person_class": int(person_class),
        "input_size": int(input_size),
        "source": str(source),
        "meta": dict(meta or {}),
        "state_dict": {
            key: value.detach().to("cpu").contiguous().clone() for key, value in state_dict.items()
        },
    }
    path = Path(path)
    atomic_save(payload, path)
    return path


def load_weights_file(path: Path | str, *, arch: str | None = None) -> dict[str, Any]:
    """Read and check a weights payload; ``arch`` (if given) must match the file's.

    Raises :class:`WeightsMissing` when the file is absent, unreadable or of another format.
    """
    path = Path(path)
    if not path.is_file():
        hint = (
            f"`python manage.py fetch_model --torchvision {arch}`"
            if path.stem == PUBLISHED_WEIGHTS and arch in TORCHVISION_ARCHS
            else "`python manage.py fetch_model --import FILE --arch ARCH --name NAME`, "
            "`fetch_model --pull ARCH:NAME` or `train_segmenter`"
        )
        raise WeightsMissing(f"{path} not found: get it with {hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsMissing(f"{path} is unreadable: {exc}") from exc
    if (
        not isinstance(payload, dict)
        or payload.get("format") != NAMED_FORMAT
        or payload.get("format_version") != NAMED_FORMAT_VERSION
    ):
        raise WeightsMissing(f"{path} is not a {NAMED_FORMAT} v{NAMED_FORMAT_VERSION} file")
    if arch is not None and payload.get("arch") != arch:
        raise WeightsMissing(f"{path} holds {payload.get('arch')!r} weights, not {arch!r}")
    return payload


def load_named_weights(model_dir: Path | str, arch: str, name: str) -> dict[str, Any]:
    """:func:`load_weights_file` for ``<model_dir>/<arch>/<name>.pt``."""
    return load_weights_file(weights_file(model_dir, arch, name), arch=arch)


def plain_state_dict(checkpoint: Any) -> dict[str, torch.Tensor]:
    """The model state dict inside a checkpoint as people save them.

    Accepts a bare state dict (torchvision's published ``.pth`` files), our payload, or a
    training checkpoint holding it under ``state_dict``/``model``/``model_state_dict``;
    strips a ``module.`` (DataParallel) prefix.
    """
    state = checkpoint
    for _ in range(3):
        if isinstance(state, Mapping) and not _is_tensor_dict(state):
            for key in ("state_dict", "model_state_dict", "model"):
                if key in state:
                    state = state[key]
                    break
            else:
                break
    if not isinstance(state, Mapping) or not state or not _is_tensor_dict(state):
        raise SegmentationError("the file holds no model state dict (a dict of tensors)")
    prefix = "module."
    if all(key.startswith(prefix) for key in state):
        state = {key[len(prefix) :]: value for key, value in state.items()}
    return dict(state)


def _is_tensor_dict(value: Mapping) -> bool:
    return all(isinstance(key, str) for key in value) and all(
        isinstance(item, torch.Tensor) for item in value.values()
    )


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename over it."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(binary file)`` on a temporary file beside ``path``, then rename it over
    ``path`` (mode 0644): readers see the old file or the complete new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
