"""Fetching and converting the selfie-segmentation weights (described in :mod:`.catalog`).

The trained model (Apache-2.0) ships inside the ``mediapipe==0.10.14`` wheel on PyPI. Set-up
(``manage.py fetch_model``) downloads that wheel with pip (``--no-deps``, binary only, a
fixed platform tag: every platform's wheel holds the same model files), checks every SHA-256,
keeps the ``.tflite`` files under ``<model_dir>/source/`` and writes converted state
dicts ``<model_dir>/<name>.pt``. Nothing is downloaded at request time: :func:`load_weights`
only reads the converted file and raises :class:`WeightsMissing` when it is absent.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..detector_net import FaceDetectorNet, PoseDetectorNet
from ..errors import WeightsError, WeightsMissing
from ..selfie_net import SelfieSegmentationNet
from .catalog import (
    CONVERTED_FORMAT_VERSION,
    MEDIAPIPE_REQUIREMENT,
    MEDIAPIPE_WEIGHTS,
    MEDIAPIPE_WHEEL_GLOB,
    MEDIAPIPE_WHEEL_PLATFORM_ARGS,
    WeightsSpec,
    source_path,
    weights_path,
)
from .detector_convert import detector_state_dict
from .files import atomic_write
from .tflite_convert import state_dict_from_tflite

# network name (``WeightsSpec.network``) -> (module class, tflite bytes -> state dict)
_NETWORKS: dict[str, tuple[type[nn.Module], Callable]] = {
    "selfie": (SelfieSegmentationNet, state_dict_from_tflite),
    "face": (FaceDetectorNet, detector_state_dict),
    "person": (PoseDetectorNet, detector_state_dict),
}


def load_weights(spec: WeightsSpec, model_dir: Path) -> dict[str, torch.Tensor]:
    """Read the converted state dict; raise :class:`WeightsMissing` if absent or stale."""
    path = weights_path(spec, model_dir)
    if not path.is_file():
        raise WeightsMissing(f"{path} not found: run `python manage.py fetch_model` first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsMissing(f"{path} is unreadable ({exc}): run `manage.py fetch_model`") from exc
    if (
        not isinstance(payload, dict)
        or payload.get("format_version") != CONVERTED_FORMAT_VERSION
        or payload.get("source_sha256") != spec.sha256
    ):
        raise WeightsMissing(f"{path} is stale: run `python manage.py fetch_model --force`")
    return payload["state_dict"]


def weights_verify(spec: WeightsSpec, model_dir: Path) -> bool:
    """True when the converted file exists, is current, and fits the network exactly."""
    try:
        state = load_weights(spec, model_dir)
    except WeightsMissing:
        return False
    expected = _NETWORKS[spec.network][0]().state_dict()
    return set(state) == set(expected) and all(
        state[key].shape == expected[key].shape for key in expected
    )


def weights_fetch(
    *,
    model_dir: Path,
    wheel: Path | None = None,
    force: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> list[Path]:
    """Make sure every converted weight file (:data:`MEDIAPIPE_WEIGHTS`: the two selfie
    networks and the two detectors) is present; return their paths.

    Quick and offline when the converted files already verify. Otherwise uses the kept
    ``.tflite`` sources, or ``wheel`` (a local mediapipe wheel), or downloads the wheel with
    pip into ``<model_dir>/download/`` (deleted afterwards). Raises :class:`WeightsError`
    with a one-line reason when the download fails or a SHA-256 differs.
    """
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    todo = [spec for spec in MEDIAPIPE_WEIGHTS if force or not weights_verify(spec, model_dir)]
    if not todo:
        log(f"weights up to date in {model_dir}")
        return [weights_path(spec, model_dir) for spec in MEDIAPIPE_WEIGHTS]

    sources: dict[str, bytes] = {}
    for spec in todo:
        path = source_path(spec, model_dir)
        if path.is_file() and _sha256(data := path.read_bytes()) == spec.sha256:
            sources[spec.name] = data
    missing = [spec for spec in todo if spec.name not in sources]
    if missing:
        download_dir = model_dir / "download"
        try:
            wheel_file = Path(wheel) if wheel else _download_wheel(download_dir, log)
            sources.update(_extract_verified(wheel_file, missing, model_dir, log))
        finally:
            shutil.rmtree(download_dir, ignore_errors=True)

    for spec in todo:
        network, convert = _NETWORKS[spec.network]
        model = network()
        state = convert(sources[spec.name], model)
        model.load_state_dict(state, strict=True)  # proves the mapping is complete
        payload = {
            "format_version": CONVERTED_FORMAT_VERSION,
            "source": f"{MEDIAPIPE_REQUIREMENT}:{spec.wheel_member}",
            "source_sha256": spec.sha256,
            "input_size": list(spec.input_size),
            "state_dict": state,
        }
        atomic_write(weights_path(spec, model_dir), lambda fh, p=payload: torch.save(p, fh))
        log(f"converted {spec.source_name} -> {weights_path(spec, model_dir)}")
    return [weights_path(spec, model_dir) for spec in MEDIAPIPE_WEIGHTS]


def _download_wheel(download_dir: Path, log: Callable[[str], None]) -> Path:
    download_dir.mkdir(parents=True, exist_ok=True)
    log(f"downloading {MEDIAPIPE_REQUIREMENT} wheel from the package index ...")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        *MEDIAPIPE_WHEEL_PLATFORM_ARGS,
        "--disable-pip-version-check",
        "--no-input",
        "--retries",
        "1",
        "--timeout",
        "30",
        "--dest",
        str(download_dir),
        MEDIAPIPE_REQUIREMENT,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(download_dir.glob(MEDIAPIPE_WHEEL_GLOB))
    if result.returncode != 0 or not wheels:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"pip exited with {result.returncode}"
        raise WeightsError(f"could not download {MEDIAPIPE_REQUIREMENT} (offline?): {reason}")
    return wheels[0]


def _extract_verified(
    wheel_file: Path, specs: list[WeightsSpec], model_dir: Path, log: Callable[[str], None]
) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(wheel_file) as archive:
            members = {spec.name: archive.read(spec.wheel_member) for spec in specs}
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{wheel_file.name} does not hold the MediaPipe models: {exc}") from exc
    for spec in specs:
        digest = _sha256(members[spec.name])
        if digest != spec.sha256:
            raise WeightsError(
                f"SHA-256 mismatch for {spec.source_name}: expected {spec.sha256}, got {digest}"
            )
        atomic_write(source_path(spec, model_dir), lambda fh, d=members[spec.name]: fh.write(d))
        log(f"verified {spec.source_name} (sha256 {spec.sha256[:12]}...)")
    return members


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
