"""Selfie segmentation backend: MediaPipe's general/landscape networks ported to torch.

Pipeline for one photo (uint8 H×W×3):

1. pick the general (256×256) or landscape (144×256) network by the photo's aspect ratio,
   downsample the photo to its input (antialiased), run it → person probability;
2. no person (almost no pixel above the threshold) → all-zero alpha;
3. small person (bounding box ≤ ``second_pass_max_fraction`` of the photo): run the network
   again on a crop around the person, with a margin, at the crop's own aspect ratio, and
   use that finer probability for the crop (the photo outside the crop is background);
4. refine to full resolution with a colour guided filter guided by the full-resolution
   photo (or, for the reference pipeline, a plain bilinear stretch).
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..refine import GuidedFilterParams, refine_guided, upsample_bilinear
from ..registry import EngineConfig
from ..segmenter import Segmenter
from ..selfie_net import SelfieSegmentationNet, selfie_segmentation_net
from ..weights import SELFIE_GENERAL, SELFIE_LANDSCAPE, WeightsSpec, load_weights

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-resolution pixels (end exclusive)


@dataclass(frozen=True)
class SelfieOptions:
    """Tunables of the selfie pipeline (defaults tuned on the portraits dev set).

    ``landscape_aspect``: width/height at or above which the landscape network is used.
    ``person_threshold``: probability counted as person. ``min_person_fraction``: below this
    share of person pixels in the first pass the photo has no person (all-zero alpha).
    ``second_pass_max_fraction``: person bounding box area / photo area at or below which
    the second pass runs. ``crop_margin``: margin around the person box, as a fraction of the
    box's longer side, on each side.
    """

    refine: Literal["guided", "bilinear"] = "guided"
    second_pass: bool = True
    guided: GuidedFilterParams = field(default_factory=GuidedFilterParams)
    landscape_aspect: float = 1.5
    person_threshold: float = 0.5
    min_person_fraction: float = 0.0005
    second_pass_max_fraction: float = 0.2
    crop_margin: float = 0.25
    crop_iterations: int = 1
    crop_keep_aspect: bool = True
    flip_average: bool = False


class SelfieSegmenter(Segmenter):
    """Loads both selfie networks once; ``segment``/``segment_rgb`` as in :class:`Segmenter`."""

    def __init__(self, *, name: str, config: EngineConfig, **options: Any) -> None:
        self.name = name
        guided = options.pop("guided", None)
        self.options = SelfieOptions(**options)
        if isinstance(guided, dict):
            self.options = replace(self.options, guided=replace(self.options.guided, **guided))
        elif guided is not None:
            self.options = replace(self.options, guided=guided)
        self._networks = {
            spec.name: (spec, _load_network(spec, config)) for spec in (SELFIE_GENERAL, SELFIE_LANDSCAPE)
        }
        # Two concurrent requests would each start 2 OpenMP threads on the same cores;
        # running the (few ms) network calls one at a time is faster overall.
        self._inference_lock = threading.Lock()

    def network_for(self, width: int, height: int) -> tuple[WeightsSpec, SelfieSegmentationNet]:
        """The general network, or the landscape one for wide photos."""
        landscape = width >= self.options.landscape_aspect * height
        return self._networks[(SELFIE_LANDSCAPE if landscape else SELFIE_GENERAL).name]

    @torch.inference_mode()
    def probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Person probability for uint8 H×W×3 ``rgb`` at the chosen network's resolution."""
        height, width = rgb.shape[:2]
        spec, network = self.network_for(width, height)
        x = network_input(rgb, *spec.input_size)
        if self.options.flip_average:
            x = torch.cat([x, x.flip(3)])
        with self._inference_lock:
            logits = network(x)
        prob = torch.sigmoid(logits)
        if self.options.flip_average:
            return (prob[0, 0] + prob[1, 0].flip(1)) * 0.5
        return prob[0, 0]

    @torch.inference_mode()
    def segment_rgb(self, rgb: np.ndarray) -> np.ndarray:
        options = self.options
        height, width = rgb.shape[:2]
        alpha = np.zeros((height, width), dtype=np.float32)
        out = torch.from_numpy(alpha)
        with warnings.catch_warnings():  # PIL-backed arrays are read-only; never written
            warnings.simplefilter("ignore", UserWarning)
            photo = torch.from_numpy(rgb)

        prob = self.probability(photo)
        person = prob >= options.person_threshold
        if int(person.sum()) < options.min_person_fraction * person.numel():
            return alpha  # no person: all zeros

        box = self._second_pass_box(person, width, height) if options.second_pass else None
        if box is None:
            self._refine(photo, prob, out)
            return alpha
        for iteration in range(options.crop_iterations):
            x0, y0, x1, y1 = box
            region = photo[y0:y1, x0:x1]
            crop_prob = self.probability(region)
            if iteration + 1 == options.crop_iterations:
                break
            crop_person = crop_prob >= options.person_threshold
            if not bool(crop_person.any()):
                break
            inner = self._second_pass_box(crop_person, x1 - x0, y1 - y0, limit=False)
            if inner is None:
                break
            box = self._fit_box(x0 + inner[0], y0 + inner[1], x0 + inner[2], y0 + inner[3], width, height)
            if box is None:
                break
        x0, y0, x1, y1 = box
        self._refine(photo[y0:y1, x0:x1], crop_prob, out[y0:y1, x0:x1])
        return alpha

    def _refine(self, rgb: torch.Tensor, prob: torch.Tensor, out: torch.Tensor) -> None:
        if self.options.refine == "bilinear":
            upsample_bilinear(prob, out)
        else:
            refine_guided(rgb, prob, self.options.guided, out)

    def _second_pass_box(
        self, person: torch.Tensor, width: int, height: int, *, limit: bool = True
    ) -> Box | None:
        """Crop (full-res pixels) around the first pass's person pixels, or None when the
        person is already large in the frame."""
        rows = torch.nonzero(person.any(dim=1)).flatten()
        cols = torch.nonzero(person.any(dim=0)).flatten()
        grid_h, grid_w = person.shape
        # Person box in full-resolution coordinates (floats).
        top = int(rows[0]) * height / grid_h
        bottom = (int(rows[-1]) + 1) * height / grid_h
        left = int(cols[0]) * width / grid_w
        right = (int(cols[-1]) + 1) * width / grid_w
        if limit and (bottom - top) * (right - left) > (
            self.options.second_pass_max_fraction * width * height
        ):
            return None
        if not limit:
            return math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom)
        return self._fit_box(left, top, right, bottom, width, height)

    def _fit_box(
        self, left: float, top: float, right: float, bottom: float, width: int, height: int
    ) -> Box | None:
        margin = self.options.crop_margin * max(bottom - top, right - left)
        left, right = left - margin, right + margin
        top, bottom = top - margin, bottom + margin
        # Match the aspect of the network the crop will use, so it is not stretched.
        crop_w, crop_h = right - left, bottom - top
        spec, _ = self.network_for(math.ceil(crop_w), math.ceil(crop_h))
        net_h, net_w = spec.input_size
        if not self.options.crop_keep_aspect:
            pass
        elif crop_w / crop_h < net_w / net_h:
            crop_w = crop_h * net_w / net_h
        else:
            crop_h = crop_w * net_h / net_w
        x0, x1 = _fit_span((left + right) / 2, crop_w, width)
        y0, y1 = _fit_span((top + bottom) / 2, crop_h, height)
        if (x1 - x0) * (y1 - y0) >= 0.8 * width * height:
            return None  # the crop would be (almost) the whole photo: nothing to gain
        return x0, y0, x1, y1


def _fit_span(centre: float, size: float, limit: int) -> tuple[int, int]:
    """Integer [start, stop) of length ``size`` around ``centre``, shifted/clamped into [0, limit)."""
    size = min(size, float(limit))
    start = min(max(centre - size / 2, 0.0), limit - size)
    begin = max(0, math.floor(start))
    return begin, min(limit, max(begin + 1, math.ceil(start + size)))


def network_input(rgb: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """uint8 H×W×3 → float32 1×3×height×width in 0..1, channels-last (antialiased resize)."""
    image = rgb.permute(2, 0, 1).unsqueeze(0)
    if not image.is_contiguous(memory_format=torch.channels_last):
        image = image.contiguous(memory_format=torch.channels_last)
    if (height, width) != tuple(rgb.shape[:2]):
        image = F.interpolate(
            image, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )
    return image.float().div_(255.0)


def _load_network(spec: WeightsSpec, config: EngineConfig) -> SelfieSegmentationNet:
    network = selfie_segmentation_net(load_weights(spec, config.model_dir))
    network.requires_grad_(False)
    return network.to(memory_format=torch.channels_last)
