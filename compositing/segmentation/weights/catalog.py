"""Every kind of segmentation weights, described as data: names, hashes, sizes, places.

This module is the single description (no torch, no Django: cheap to import anywhere). The
modules beside it do the work: :mod:`.mediapipe` fetches and converts the selfie weights,
:mod:`.files` reads and writes named weights files, :mod:`.torchvision_published` downloads
torchvision's weights, :mod:`.checkpoint_import` imports a checkpoint a user has; the bucket
copies are ``compositing.model_store`` (Django side), which takes its names from here.

Kinds of weights:

- **converted** (the default ``selfie`` pipeline): MediaPipe's two selfie-segmentation
  networks (:data:`SELFIE_WEIGHTS`) and its face and person detectors
  (:data:`DETECTOR_WEIGHTS`, the "is there a person" evidence), taken from the pinned
  :data:`MEDIAPIPE_REQUIREMENT` wheel, checked by SHA-256, kept as
  ``<model_dir>/source/<file>.tflite`` and converted to
  ``<model_dir>/<name>.pt`` (:func:`weights_path`, :func:`source_path`).
- **published** (``ARCH`` alone): torchvision's 21-class COCO/VOC weights of each
  :data:`TORCHVISION_WEIGHTS` architecture, stored as ``<model_dir>/ARCH/coco_voc.pt``.
- **fine-tuned / imported** (``ARCH:NAME``): ``<model_dir>/ARCH/NAME.pt``
  (:func:`weights_file`), from ``train_segmenter`` or ``fetch_model --import``; training
  keeps its resumable checkpoint at :func:`checkpoint_path`.
- **bucket copies**: with S3 configured, ``ARCH/NAME.pt`` is also ``models/ARCH/NAME.pt``
  in the bucket (:func:`bucket_name`).

Each network also names its input preprocessing (:mod:`..preprocessing`): ``"unit"`` (RGB
scaled to 0..1: the selfie networks) or ``"imagenet"`` (0..1, then ImageNet mean/std: the
torchvision networks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SegmentationError, UnknownSegmenter

# ----------------------------------------------------------- converted (MediaPipe selfie)

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.14"
# Any platform's wheel has the same model files; pin one so the download is deterministic.
MEDIAPIPE_WHEEL_PLATFORM_ARGS = (
    "--platform",
    "manylinux_2_17_x86_64",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--abi",
    "cp312",
)
MEDIAPIPE_WHEEL_GLOB = "mediapipe-0.10.14-*.whl"
CONVERTED_FORMAT_VERSION = 1  # of ``<model_dir>/<name>.pt`` (converted selfie state dicts)


@dataclass(frozen=True)
class WeightsSpec:
    """One converted network's weights: where they come from and what they expect.

    ``input_size`` is (height, width) in pixels; input is RGB prepared by ``preprocessing``
    (see :mod:`..preprocessing`), output the person logit at the same size.
    """

    name: str
    wheel_member: str
    sha256: str
    input_size: tuple[int, int]
    preprocessing: str = "unit"
    network: str = "selfie"  # which module the weights fit: "selfie", "face" or "person"

    @property
    def file_name(self) -> str:
        return f"{self.name}.pt"

    @property
    def source_name(self) -> str:
        return self.wheel_member.rsplit("/", 1)[-1]


SELFIE_GENERAL = WeightsSpec(
    name="selfie_segmentation",
    wheel_member="mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
    sha256="9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c",
    input_size=(256, 256),
)
SELFIE_LANDSCAPE = WeightsSpec(
    name="selfie_segmentation_landscape",
    wheel_member="mediapipe/modules/selfie_segmentation/selfie_segmentation_landscape.tflite",
    sha256="a77d03f4659b9f6b6c1f5106947bf40e99d7655094b6527f214ea7d451106edd",
    input_size=(144, 256),
)
SELFIE_WEIGHTS = (SELFIE_GENERAL, SELFIE_LANDSCAPE)
# The detectors that decide whether a photo shows a person at all (``..detector_net``,
# ``..person_detector``); input RGB scaled to -1..1, letterboxed to a square.
FACE_DETECTOR = WeightsSpec(
    name="face_detection_short_range",
    wheel_member="mediapipe/modules/face_detection/face_detection_short_range.tflite",
    sha256="bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    input_size=(128, 128),
    preprocessing="signed",
    network="face",
)
PERSON_DETECTOR = WeightsSpec(
    name="pose_detection",
    wheel_member="mediapipe/modules/pose_detection/pose_detection.tflite",
    sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    input_size=(224, 224),
    preprocessing="signed",
    network="person",
)
DETECTOR_WEIGHTS = (FACE_DETECTOR, PERSON_DETECTOR)
MEDIAPIPE_WEIGHTS = SELFIE_WEIGHTS + DETECTOR_WEIGHTS  # everything fetch_model converts


def weights_path(spec: WeightsSpec, model_dir: Path | str) -> Path:
    """Path of the converted torch file for ``spec``."""
    return Path(model_dir) / spec.file_name


def source_path(spec: WeightsSpec, model_dir: Path | str) -> Path:
    """Path of the verified original ``.tflite`` kept after fetching (used for re-conversion
    and by the parity tests)."""
    return Path(model_dir) / "source" / spec.source_name


# ------------------------------------------------------------ published (torchvision)


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision's weights for one architecture: the enum names in
    ``torchvision.models.segmentation`` (published COCO/VOC, 21 classes) and
    ``torchvision.models`` (ImageNet backbone), the shorter side (px) the network sees and
    its preprocessing."""

    arch: str
    published_enum: str
    backbone_enum: str
    input_size: int = 520  # torchvision's SemanticSegmentation preset: resize_size=[520]
    preprocessing: str = "imagenet"


TORCHVISION_WEIGHTS: dict[str, TorchvisionWeights] = {
    spec.arch: spec
    for spec in (
        TorchvisionWeights("fcn_resnet101", "FCN_ResNet101_Weights", "ResNet101_Weights"),
        TorchvisionWeights("deeplabv3_resnet50", "DeepLabV3_ResNet50_Weights", "ResNet50_Weights"),
        TorchvisionWeights(
            "lraspp_mobilenet_v3_large",
            "LRASPP_MobileNet_V3_Large_Weights",
            "MobileNet_V3_Large_Weights",
        ),
    )
}
TORCHVISION_ARCHS = tuple(TORCHVISION_WEIGHTS)
PUBLISHED_WEIGHTS = "coco_voc"  # torchvision's COCO_WITH_VOC_LABELS_V1 (21 classes)
VOC_PERSON_CLASS = 15
DEFAULT_INPUT_SIZE = 520

# --------------------------------------------------------- named weights (ARCH/NAME.pt)

SELFIE_ARCH = "selfie"
SELFIE_INPUT_SIZE = 256  # fine-tunes of the general selfie network
TRAINABLE_ARCHS = (SELFIE_ARCH, *TORCHVISION_ARCHS)
NAMED_FORMAT = "vbg-segmentation-weights"
NAMED_FORMAT_VERSION = 1
BUCKET_PREFIX = "models"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_arch(arch: str) -> str:
    """Return ``arch`` if it is trainable/importable, else raise :class:`UnknownSegmenter`."""
    if arch not in TRAINABLE_ARCHS:
        raise UnknownSegmenter(
            f"unknown architecture {arch!r}; choose one of: {', '.join(TRAINABLE_ARCHS)}"
        )
    return arch


def check_torchvision_arch(arch: str) -> str:
    """Return ``arch`` if it is a torchvision architecture, else raise."""
    check_arch(arch)
    if arch not in TORCHVISION_ARCHS:
        raise SegmentationError(f"{arch!r} is not a torchvision architecture")
    return arch


def is_weights_name(name: str) -> bool:
    """True when ``name`` is usable as a weights file name (see :func:`check_weights_name`)."""
    return isinstance(name, str) and bool(_NAME.match(name)) and not name.endswith(".pt")


def check_weights_name(name: str) -> str:
    """Return ``name`` if usable as a file name (letters, digits, ``.``, ``_``, ``-``; at most
    64 characters, not starting with a dot or dash), else raise :class:`SegmentationError`."""
    if not is_weights_name(name):
        raise SegmentationError(
            f"invalid weights name {name!r}: use letters, digits, '.', '_' and '-' "
            "(at most 64 characters, starting with a letter or digit)"
        )
    return name


def model_label(arch: str, name: str) -> str:
    """The model name recorded on composites: ``arch`` for published weights, else ``arch:name``."""
    return arch if name == PUBLISHED_WEIGHTS and arch in TORCHVISION_ARCHS else f"{arch}:{name}"


def parse_model_name(model: str) -> tuple[str, str]:
    """``ARCH:NAME`` → (arch, name); a bare torchvision ``ARCH`` → (arch, "coco_voc").
    Raises :class:`SegmentationError` for an unknown architecture or a malformed name."""
    arch, separator, name = model.partition(":")
    check_arch(arch)
    if not separator:
        if arch not in TORCHVISION_ARCHS:
            check_weights_name("")  # raises: "selfie" alone is the default, not a weights file
        name = PUBLISHED_WEIGHTS
    return arch, check_weights_name(name)


def weights_relpath(arch: str, name: str) -> str:
    """``ARCH/NAME.pt``: the file's path inside the model directory (and under ``models/``
    in the bucket)."""
    return f"{check_arch(arch)}/{check_weights_name(name)}.pt"


def weights_file(model_dir: Path | str, arch: str, name: str) -> Path:
    """Local path of the named weights of ``arch``."""
    return Path(model_dir) / weights_relpath(arch, name)


def bucket_name(arch: str, name: str) -> str:
    """Storage name of ``ARCH:NAME`` in the bucket: ``models/ARCH/NAME.pt``."""
    return f"{BUCKET_PREFIX}/{weights_relpath(arch, name)}"


def checkpoint_path(model_dir: Path | str, arch: str, name: str) -> Path:
    """Where training keeps its resumable checkpoint of ``ARCH:NAME``."""
    return Path(model_dir) / "checkpoints" / f"{check_arch(arch)}-{check_weights_name(name)}.ckpt"
