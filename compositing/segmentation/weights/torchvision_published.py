"""torchvision's own weights: the published COCO/VOC segmentation weights (stored as
``<model_dir>/ARCH/coco_voc.pt``) and the ImageNet backbones used to start training.

Downloads go through torch's hub cache (hash-checked); torchvision is imported only inside
these functions.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..errors import SegmentationError, WeightsError
from ..torchvision_nets import builder_options
from .catalog import PUBLISHED_WEIGHTS, TORCHVISION_WEIGHTS, check_torchvision_arch, weights_file
from .checkpoint_import import import_state_dict
from .files import load_weights_file


def published_weights_enum(arch: str) -> Any:
    """torchvision's ``COCO_WITH_VOC_LABELS_V1`` weights enum of ``arch``."""
    from torchvision.models import segmentation

    spec = TORCHVISION_WEIGHTS[check_torchvision_arch(arch)]
    return getattr(segmentation, spec.published_enum).COCO_WITH_VOC_LABELS_V1


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
    check_torchvision_arch(arch)
    target = weights_file(model_dir, arch, PUBLISHED_WEIGHTS)
    if target.is_file() and not force:
        try:
            load_weights_file(target, arch=arch)
            log(f"{arch} published weights already in {target}")
            return target
        except SegmentationError:
            pass
    weights = published_weights_enum(arch)
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
    import torchvision.models as models
    from torchvision.models import segmentation

    spec = TORCHVISION_WEIGHTS[check_torchvision_arch(arch)]
    enum = getattr(models, spec.backbone_enum).IMAGENET1K_V1
    try:
        # Let torchvision build the model with that backbone: it knows which layers it keeps.
        options = {**builder_options(arch, num_classes=2), "weights_backbone": enum}
        model = getattr(segmentation, arch)(progress=progress, **options)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WeightsError(
            f"cannot download torchvision's ImageNet backbone for {arch} from {enum.url} "
            f"(no internet access?): {reason}"
        ) from exc
    return model.backbone.state_dict()
