"""Selfie segmentation backend: MediaPipe's general/landscape networks ported to torch.

Pipeline for one photo (uint8 HxWx3):

1. pick the general (256x256) or landscape (144x256) network by the photo's aspect ratio,
   downsample the photo to its input (antialiased), run it → person probability;
2. no person (almost no pixel above the threshold) → all-zero alpha;
3. small person (bounding box ≤ ``second_pass_max_fraction`` of the photo): run the network
   again on a crop around the person, with a margin, at the crop's own aspect ratio, and
   use that finer probability for the crop (the photo outside the crop is background);
4. refine to full resolution with a colour guided filter guided by the full-resolution
   photo (or, for the reference pipeline, a plain bilinear stretch).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image

from ..image_input import image_to_rgb
from ..preprocessing import network_input
from ..refine import (
    GuidedFilterParams,
    Runner,
    refine_guide,
    refine_guided,
    upsample_bilinear,
)
from ..registry import EngineConfig
from ..segmenter import Segmenter
from ..selfie_net import SelfieSegmentationNet, selfie_segmentation_net
from ..weights.catalog import SELFIE_GENERAL, SELFIE_LANDSCAPE, WeightsSpec
from ..weights.mediapipe import load_weights

logger = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in full-resolution pixels (end exclusive)


@dataclass(frozen=True)
class SelfieOptions:
    """Tunables of the selfie pipeline (defaults tuned on the portraits dev set).

    ``landscape_aspect``: width/height at or above which the landscape network is used (the
    general one scored better on everything narrower than 16:9 there).
    ``person_threshold``: probability counted as person. ``min_person_fraction``: below this
    share of person pixels in the first pass the photo has no person (all-zero alpha).
    ``second_pass_max_fraction``: person bounding box area / photo area at or below which
    the second pass runs. ``crop_margin``: margin around the person box, as a fraction of the
    box's longer side, on each side. The crop is stretched to the network's input like the
    whole frame is (the model was trained that way): a tight crop scored best.
    """

    refine: Literal["guided", "bilinear"] = "guided"
    second_pass: bool = True
    guided: GuidedFilterParams = field(default_factory=GuidedFilterParams)
    landscape_aspect: float = 1.7
    person_threshold: float = 0.5
    min_person_fraction: float = 0.0005
    second_pass_max_fraction: float = 0.25
    crop_margin: float = 0.08
    # Run each network through a TorchScript trace, frozen, per input size: the same
    # arithmetic (bit-identical output) with ~25% less per-call overhead than the eager
    # module. Falls back to the module if tracing is unavailable.
    frozen_runtime: bool = True


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
        self.device = torch.device(config.device)
        self._networks = {
            spec.name: (spec, _load_network(spec, config))
            for spec in (SELFIE_GENERAL, SELFIE_LANDSCAPE)
        }
        # Two concurrent requests would each start 2 OpenMP threads on the same cores;
        # running the (few ms) network calls one at a time is faster overall.
        self._inference_lock = threading.Lock()
        self._runtimes: dict[tuple[int, tuple[int, ...]], torch.nn.Module] = {}

    def network_for(self, width: int, height: int) -> tuple[WeightsSpec, SelfieSegmentationNet]:
        """The general network, or the landscape one for wide photos."""
        landscape = width >= self.options.landscape_aspect * height
        return self._networks[(SELFIE_LANDSCAPE if landscape else SELFIE_GENERAL).name]

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        """(height, width) of the chosen network's input: 256x256, or 144x256 when wide."""
        spec, _ = self.network_for(width, height)
        return int(spec.input_size[0]), int(spec.input_size[1])

    @torch.inference_mode()
    def probability(self, rgb: torch.Tensor) -> torch.Tensor:
        """Person probability for uint8 HxWx3 ``rgb`` at the chosen network's resolution."""
        height, width = rgb.shape[:2]
        spec, network = self.network_for(width, height)
        x = network_input(rgb, *spec.input_size, preprocessing=spec.preprocessing)
        x = x.to(self.device, non_blocking=True)
        with self._inference_lock:
            logits = self._runtime(network, x)(x)
        return torch.sigmoid(logits)[0, 0].cpu()  # refinement runs on the CPU

    @torch.inference_mode()
    def segment_rgb(
        self, rgb: np.ndarray, *, matte: bool = False, runner: Runner | None = None
    ) -> np.ndarray:
        """As :meth:`Segmenter.segment_rgb`; ``matte``: the 8-bit matte (uint8, 255 =
        person) written strip by strip, with no full-size float alpha (192 MB at 48 MP).
        ``runner``: how the refinement runs its independent parts (``refine.Runner``)."""
        options = self.options
        height, width = rgb.shape[:2]
        alpha = np.zeros((height, width), dtype=np.uint8 if matte else np.float32)
        out = torch.from_numpy(alpha)
        with warnings.catch_warnings():  # PIL-backed arrays are read-only; never written
            warnings.simplefilter("ignore", UserWarning)
            photo = torch.from_numpy(rgb)

        prob, guide = self._first_pass(photo, runner)
        person = prob >= options.person_threshold
        if int(person.sum()) < options.min_person_fraction * person.numel():
            return alpha  # no person: all zeros

        box = self.crop_box(person, width, height) if options.second_pass else None
        if box is None:
            self._refine(photo, prob, out, runner, guide)
        else:
            # Outside the crop the first pass found no person: it stays 0.
            x0, y0, x1, y1 = box
            region = photo[y0:y1, x0:x1]
            self._refine(region, self.probability(region), out[y0:y1, x0:x1], runner)
        return alpha

    def _first_pass(
        self, photo: torch.Tensor, runner: Runner | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The network's probability for the whole photo and, with a ``runner`` that may share
        work out, the refinement's guide of it made beside the network (by whichever thread
        is free: the guide needs no probability; it is not used if a second pass crops).
        Without one, no guide: the refinement makes its own."""
        if runner is None or self.options.refine != "guided":
            return self.probability(photo), None
        made: dict[int, torch.Tensor] = {}

        def stage(index: int) -> None:
            with torch.inference_mode():
                made[index] = (
                    self.probability(photo)
                    if index == 0
                    else refine_guide(photo, self.options.guided)
                )

        runner(stage, (0, 1))
        return made[0], made[1]

    def _runtime(self, network: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
        """The callable that runs ``network`` on inputs shaped like ``example`` (built once;
        call under the inference lock)."""
        if not self.options.frozen_runtime:
            return network
        key = (id(network), tuple(example.shape))
        runtime = self._runtimes.get(key)
        if runtime is None:
            runtime = _frozen(network, example)
            self._runtimes[key] = runtime
        return runtime

    def segment_matte(
        self, image: Image.Image | np.ndarray, *, runner: Runner | None = None
    ) -> np.ndarray:
        return self.segment_rgb(image_to_rgb(image), matte=True, runner=runner)

    @torch.inference_mode()
    def refine(self, rgb: torch.Tensor, prob: torch.Tensor, out: torch.Tensor) -> None:
        self._refine(rgb, prob, out)

    def _refine(
        self,
        rgb: torch.Tensor,
        prob: torch.Tensor,
        out: torch.Tensor,
        runner: Runner | None = None,
        guide: torch.Tensor | None = None,
    ) -> None:
        if self.options.refine == "bilinear":
            upsample_bilinear(prob, out)
        else:
            refine_guided(rgb, prob, self.options.guided, out, runner, guide)

    def crop_box(self, person: torch.Tensor, width: int, height: int) -> Box | None:
        """Second-pass crop (full-res pixels) around the first pass's person pixels (bool
        hxw at network resolution), or None when the person is already large in the frame."""
        rows = torch.nonzero(person.any(dim=1)).flatten()
        cols = torch.nonzero(person.any(dim=0)).flatten()
        grid_h, grid_w = person.shape
        top = int(rows[0]) * height / grid_h
        bottom = (int(rows[-1]) + 1) * height / grid_h
        left = int(cols[0]) * width / grid_w
        right = (int(cols[-1]) + 1) * width / grid_w
        box_area = (bottom - top) * (right - left)
        if box_area > self.options.second_pass_max_fraction * width * height:
            return None
        margin = self.options.crop_margin * max(bottom - top, right - left)
        x0, x1 = _fit_span(left - margin, right + margin, width)
        y0, y1 = _fit_span(top - margin, bottom + margin, height)
        if (x1 - x0) * (y1 - y0) >= 0.8 * width * height:
            return None  # the crop would be (almost) the whole photo: nothing to gain
        return x0, y0, x1, y1


def _fit_span(start: float, stop: float, limit: int) -> tuple[int, int]:
    """Integer [start, stop) covering the float span, clipped to [0, limit), at least 1 px."""
    begin = min(max(0, math.floor(start)), limit - 1)
    return begin, min(limit, max(begin + 1, math.ceil(stop)))


def _frozen(network: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    """TorchScript trace of ``network`` for ``example``'s shape, frozen; or the module itself."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of compile
            traced = torch.jit.trace(network, example, check_trace=False)
            return torch.jit.freeze(traced.eval())
    except Exception as exc:  # no TorchScript in this torch build: eager is correct too
        logger.warning("running the selfie network eagerly (%s)", exc)
        return network


def _load_network(spec: WeightsSpec, config: EngineConfig) -> SelfieSegmentationNet:
    network = selfie_segmentation_net(load_weights(spec, config.model_dir))
    network.requires_grad_(False)
    return network.to(device=config.device, memory_format=torch.channels_last)
