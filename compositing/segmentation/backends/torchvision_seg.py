"""torchvision segmentation backends: ``fcn_resnet101`` (the original report's model),
``deeplabv3_resnet50`` and ``lraspp_mobilenet_v3_large``, behind the engine's ``segment()``.

Weights (described in :mod:`..weights.catalog`; fetched by
:mod:`..weights.torchvision_published`, imported by :mod:`..weights.checkpoint_import`):

- torchvision's published 21-class COCO-with-VOC-labels weights (``ARCH`` alone, stored as
  ``<model_dir>/ARCH/coco_voc.pt`` by ``fetch_model --torchvision ARCH`` or ``fetch_model
  --import``): the person probability is the softmax probability of VOC class 15;
- a transfer-learned 2-class head (``ARCH:NAME``, from ``train_segmenter``): class 1.

Pipeline for one photo (uint8 HxWx3): resize so the shorter side is ``input_size`` pixels
(520 for the published weights, as torchvision's own preset does; antialiased bilinear),
normalise with ImageNet mean/std (:mod:`..preprocessing`), run the network (its output is
already upsampled to the input size), softmax → person probability; almost no person →
all-zero alpha; then the engine's edge-aware refinement (colour guided filter guided by the
full-resolution photo) to the photo's resolution, or a plain bilinear stretch
(``refine="bilinear"``).

torchvision is imported only when a model is built (:mod:`..torchvision_nets`), so the
default engine never loads it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Literal

import numpy as np
import torch

from ..preprocessing import network_input, shorter_side_size
from ..refine import GuidedFilterParams, refine_guided, upsample_bilinear
from ..registry import EngineConfig
from ..segmenter import Segmenter
from ..torchvision_nets import model_from_payload
from ..weights.catalog import (
    DEFAULT_INPUT_SIZE,
    PUBLISHED_WEIGHTS,
    TORCHVISION_WEIGHTS,
    check_torchvision_arch,
    model_label,
)
from ..weights.files import load_named_weights

# The long side is capped at this multiple of the short side (panoramas stay affordable).
MAX_ASPECT = 4.0


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
        self.preprocessing = TORCHVISION_WEIGHTS[arch].preprocessing
        if refine not in ("guided", "bilinear"):
            raise ValueError(f"refine must be 'guided' or 'bilinear', not {refine!r}")
        self.refine_mode = refine
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
        self.device = torch.device(config.device)
        self.model = model.to(device=self.device, memory_format=torch.channels_last)
        self._inference_lock = threading.Lock()

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(height, width) :func:`network_input` resizes to: shorter side ``input_size``, the
        longer one capped at ``MAX_ASPECT`` times that."""
        return shorter_side_size(height, width, self.input_size, max_aspect=MAX_ASPECT)

    @torch.inference_mode()
    def probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Person probability (float32 hxw at the network's input size) of uint8 HxWx3."""
        height, width = self.network_size(rgb.shape[1], rgb.shape[0])
        x = network_input(rgb, height, width, preprocessing=self.preprocessing)
        x = x.to(self.device, non_blocking=True)
        with self._inference_lock:
            logits = self.model(x)["out"]
        # Refinement runs on the CPU.
        return torch.softmax(logits, dim=1)[0, self.person_class].contiguous().cpu()

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
        self._refine(photo, prob, out)
        return alpha

    @torch.inference_mode()
    def refine(self, rgb: torch.Tensor, prob: torch.Tensor, out: torch.Tensor) -> None:
        self._refine(rgb, prob, out)

    def _refine(self, rgb: torch.Tensor, prob: torch.Tensor, out: torch.Tensor) -> None:
        if self.refine_mode == "bilinear":
            upsample_bilinear(prob, out)
        else:
            refine_guided(rgb, prob, self.guided, out)
