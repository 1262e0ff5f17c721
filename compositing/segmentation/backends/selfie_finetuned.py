"""The default (selfie) pipeline with fine-tuned network weights: model ``selfie:NAME``.

``train_segmenter --arch selfie`` fine-tunes the general (256x256) selfie network and
stores it as ``<model_dir>/selfie/NAME.pt``. This backend is the default pipeline of
:mod:`.selfie` (aspect-ratio choice, second pass for small people, guided refinement) with
that network in place of both MediaPipe networks: the network is fully convolutional, so
the fine-tuned weights also run at the landscape input size (144x256).
"""

from __future__ import annotations

from typing import Any

import torch

from ..registry import EngineConfig
from ..selfie_net import selfie_segmentation_net
from ..weights.catalog import SELFIE_ARCH, model_label
from ..weights.files import load_named_weights
from .selfie import SelfieSegmenter


class FinetunedSelfieSegmenter(SelfieSegmenter):
    """:class:`SelfieSegmenter` running fine-tuned weights ``weights`` (a weights name)."""

    def __init__(self, *, name: str, config: EngineConfig, weights: str, **options: Any) -> None:
        payload = load_named_weights(config.model_dir, SELFIE_ARCH, weights)
        super().__init__(name=name, config=config, **options)
        network = selfie_segmentation_net(payload["state_dict"])
        network.requires_grad_(False)
        network = network.to(memory_format=torch.channels_last)
        self._networks = {key: (spec, network) for key, (spec, _) in self._networks.items()}
        self.weights = weights
        self.label = model_label(SELFIE_ARCH, weights)
