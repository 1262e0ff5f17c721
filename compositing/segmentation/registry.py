"""Backend registry, engine configuration and the once-per-process model cache.

A backend is one module under ``backends/`` exposing a factory
``factory(*, name: str, config: EngineConfig, **options) -> Segmenter``; the backends are
declared as data below (:data:`_BACKENDS`), by dotted path, so nothing heavy is imported
until a model is asked for. ``ARCH:NAME`` names (weights from ``train_segmenter`` or
``fetch_model --import``) map to :data:`_NAMED_WEIGHTS` with ``weights=NAME``.

``get_segmenter(name)`` builds each name at most once per process, under a lock, and
raises :class:`UnknownSegmenter` for any other name (never a silent fallback).
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import UnknownSegmenter
from .segmenter import Segmenter
from .weights import catalog
from .weights.catalog import SELFIE_ARCH, TORCHVISION_ARCHS, is_weights_name

logger = logging.getLogger(__name__)

DEFAULT_SEGMENTER = "selfie"


@dataclass(frozen=True)
class EngineConfig:
    """Process-wide settings: where converted weights live, torch's intra-op thread count
    (0 = torch's default) and whether to tune glibc malloc for inference (see below)."""

    model_dir: Path = Path("models")
    threads: int = 0
    tune_malloc: bool = True
    device: str = "cpu"  # a torch device name the networks run on ("cpu", "cuda", "cuda:1")
    default: str = DEFAULT_SEGMENTER


@dataclass(frozen=True)
class _Backend:
    target: str
    options: dict[str, Any] = field(default_factory=dict)


_BACKENDS: dict[str, _Backend] = {
    # MediaPipe selfie model, guided-filter refinement and a second pass for small people.
    "selfie": _Backend("compositing.segmentation.backends.selfie:SelfieSegmenter"),
    # The same network with a single pass (refinement only), for comparisons.
    "selfie_single": _Backend(
        "compositing.segmentation.backends.selfie:SelfieSegmenter", {"second_pass": False}
    ),
    # The reference pipeline: one pass, plain bilinear stretch of the 256 px mask.
    "selfie_bilinear": _Backend(
        "compositing.segmentation.backends.selfie:SelfieSegmenter",
        {"second_pass": False, "refine": "bilinear"},
    ),
    # torchvision networks with their published COCO/VOC weights (fetch_model --torchvision
    # ARCH or --import); torchvision is imported only when one of these loads.
    **{
        arch: _Backend(
            "compositing.segmentation.backends.torchvision_seg:TorchvisionSegmenter",
            {"arch": arch},
        )
        for arch in TORCHVISION_ARCHS
    },
}

# ``ARCH:NAME`` models (e.g. "fcn_resnet101:my-finetune"): the backend for ARCH with
# weights=NAME, a file from train_segmenter or fetch_model --import/--pull
# (<model_dir>/ARCH/NAME.pt).
_NAMED_WEIGHTS: dict[str, _Backend] = {
    SELFIE_ARCH: _Backend(
        "compositing.segmentation.backends.selfie_finetuned:FinetunedSelfieSegmenter"
    ),
    **{
        arch: _Backend(
            "compositing.segmentation.backends.torchvision_seg:TorchvisionSegmenter",
            {"arch": arch},
        )
        for arch in TORCHVISION_ARCHS
    },
}

_config = EngineConfig()
_instances: dict[str, Segmenter] = {}
_detectors: dict[str, Any] = {}  # "person": the loaded PersonDetector
_lock = threading.Lock()
_runtime_ready = False


def available_segmenters() -> list[str]:
    """Names ``get_segmenter`` accepts."""
    return sorted(_BACKENDS)


def configure(
    *,
    model_dir: Path | str | None = None,
    threads: int | None = None,
    tune_malloc: bool | None = None,
    default: str | None = None,
    device: str | None = None,
) -> EngineConfig:
    """Set process-wide options (call before the first ``segment``; changing them later
    drops already-loaded models so the next call reloads with the new settings)."""
    global _config, _runtime_ready
    changes: dict[str, Any] = {}
    if model_dir is not None:
        changes["model_dir"] = Path(model_dir)
    if threads is not None:
        if threads < 0:
            raise ValueError("threads must be >= 0")
        changes["threads"] = int(threads)
    if tune_malloc is not None:
        changes["tune_malloc"] = bool(tune_malloc)
    if default is not None:
        changes["default"] = default
    if device is not None:
        changes["device"] = device
    with _lock:
        new = replace(_config, **changes)
        if new != _config:
            _config = new
            _instances.clear()
            _detectors.clear()
            _runtime_ready = False
    return _config


def get_config() -> EngineConfig:
    return _config


def get_segmenter(name: str | None = None) -> Segmenter:
    """The loaded segmenter called ``name`` (default: the configured default)."""
    key = name or _config.default
    segmenter = _instances.get(key)
    if segmenter is not None:
        return segmenter
    backend = _backend_for(key)
    if backend is None:
        raise UnknownSegmenter(
            f"unknown segmenter {key!r}; available: {', '.join(available_segmenters())}"
        )
    with _lock:
        segmenter = _instances.get(key)
        if segmenter is None:
            _prepare_runtime(_config)
            module_name, _, attribute = backend.target.partition(":")
            factory = getattr(importlib.import_module(module_name), attribute)
            segmenter = factory(name=key, config=_config, **backend.options)
            _instances[key] = segmenter
            logger.info("loaded segmenter %s", key)
    return segmenter


def get_person_detector() -> Any:
    """The loaded :class:`.person_detector.PersonDetector` (MediaPipe's person and face
    detectors, converted by ``fetch_model``), loaded once per process from the configured
    model directory. Raises :class:`WeightsMissing` when their weights are absent."""
    detector = _detectors.get("person")
    if detector is not None:
        return detector
    with _lock:
        if "person" not in _detectors:
            _prepare_runtime(_config)
            from .detector_net import FaceDetectorNet, PoseDetectorNet
            from .person_detector import PersonDetector
            from .weights.mediapipe import load_weights

            person_net, face_net = PoseDetectorNet(), FaceDetectorNet()
            person_net.load_state_dict(load_weights(catalog.PERSON_DETECTOR, _config.model_dir))
            face_net.load_state_dict(load_weights(catalog.FACE_DETECTOR, _config.model_dir))
            _detectors["person"] = PersonDetector(person_net, face_net)
            logger.info("loaded the person and face detectors")
    return _detectors["person"]


def _backend_for(key: str) -> _Backend | None:
    """The declared backend called ``key``, or the one for ``ARCH:NAME`` with weights NAME."""
    backend = _BACKENDS.get(key)
    if backend is not None:
        return backend
    arch, _, weights = key.partition(":")
    base = _NAMED_WEIGHTS.get(arch)
    if base is None or not is_weights_name(weights):
        return None
    return _Backend(base.target, {**base.options, "weights": weights})


def clear_segmenters() -> None:
    """Forget loaded models (tests; or to free memory)."""
    with _lock:
        _instances.clear()
        _detectors.clear()


def _prepare_runtime(config: EngineConfig) -> None:
    global _runtime_ready
    if _runtime_ready:
        return
    import torch

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if config.tune_malloc:
        _tune_malloc()
    _runtime_ready = True


def _tune_malloc() -> None:
    """Keep freed memory in glibc's heap instead of returning it to the kernel each time.

    Inference allocates and frees the same few-MB tensors on every call; by default glibc
    serves those with fresh mmap()s (or trims the heap after each free), so every call pays
    thousands of page faults, measured as 1.5-2x the network's compute time here. With a
    fixed mmap threshold and a trim threshold above it, the memory is reused. Cost: the
    process keeps its peak working set (bounded by the strip-wise refinement).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)
        libc.mallopt(m_trim_threshold, 64 << 20)
        libc.mallopt(m_top_pad, 16 << 20)
    except (OSError, AttributeError):  # not glibc (musl, ...): nothing to tune
        logger.debug("malloc tuning unavailable")
