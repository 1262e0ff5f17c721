"""Is there a person in this photo? Evidence from MediaPipe's person and face detectors.

The selfie network alone cannot tell: it paints a cat, coins or a retina scan 80-93 %
"person". Two detectors from the same wheel can (:mod:`.detector_net`):

- the **person detector** (BlazePose's, 224x224) finds whole people, including small and
  full-body ones, but scores some close-up portraits low (a face filling the frame);
- the **face detector** (BlazeFace short range, 128x128) is sure of close-up faces but
  blind to people a few metres away.

:func:`person_present` accepts a photo when either is confident
(:data:`PERSON_THRESHOLD`, :data:`FACE_THRESHOLD`). Measured with ``bench/bench_person_check.py``
(see the README's model section): on every scikit-image data photo, the 25 portraits-dev
photos and all 196 video-dev frames, the highest score of a photo without a person is
0.58 (person detector, on ``logo``) / 0.62 (face detector, on ``shepp_logan_phantom``), the
lowest person score of a small full-body person (video-dev) 0.65, the lowest best score of a
portrait 0.77.

:meth:`PersonDetector.present` decides at the least cost: the photo is resized once (to the
person detector's 224 square; the face detector's 128 square comes from that small copy), the
face detector runs first and a confident face decides without the person detector (a
portrait costs the face detector only; a photo without a face both). The decisions are those
of :func:`person_present` on :meth:`PersonDetector.evidence` (``bench/bench_person_check.py``
checks every photo). The resize is torch's antialiased bilinear on the photo's uint8 pixels
(the filter of Pillow's bilinear resize, within a level of it; at 1 MP 0.6 ms against 3.6
for Pillow's box reduction then bilinear, whose scores it moves by at most 0.013 on the
bench's 244 photos, no decision changed: see the README's model section); a Pillow photo
over 16 MP is box-reduced first (:data:`REDUCE_ABOVE_PIXELS`). The networks run as frozen
channels-last TorchScript traces (:class:`PersonDetector`): at 1 MP about half the time of
the eager modules.

Pure: torch and numpy only. Anchors, decoding and non-maximum suppression are plain
functions, the same as MediaPipe's ``SsdAnchorsCalculator`` (fixed anchor size, anchor
offset 0.5) and ``TensorsToDetectionsCalculator`` (sigmoid scores clipped at ±100, boxes
relative to the anchor centre, scaled by the input size).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .detector_net import FaceDetectorNet, PoseDetectorNet

logger = logging.getLogger(__name__)

PERSON_THRESHOLD = 0.6
FACE_THRESHOLD = 0.7
# Detections kept for callers (boxes of people/faces), above MediaPipe's own 0.5.
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
SCORE_CLIP = 100.0

# (input size, feature strides, anchors a cell at each stride) of each detector
FACE_ANCHORS = (128, (8, 16), (2, 6))
PERSON_ANCHORS = (224, (8, 16, 32), (2, 2, 6))


def ssd_anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Anchor centres (Ax2, x then y, 0..1) in the networks' output order: for each stride,
    the cells row by row, each cell's anchors in turn (all anchors are 1x1: fixed size)."""
    centres = []
    for stride, count in zip(strides, per_cell, strict=True):
        cells = math.ceil(size / stride)
        axis = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(axis, axis, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, count, axis=0))
    return np.concatenate(centres)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, size: int) -> np.ndarray:
    """Regressors (AxK, pixels of the input square) → boxes Ax4 (x0, y0, x1, y1; 0..1)."""
    cx = raw[:, 0] / size + anchors[:, 0]
    cy = raw[:, 1] / size + anchors[:, 1]
    half_w, half_h = raw[:, 2] / size / 2, raw[:, 3] / size / 2
    return np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    clipped = np.clip(logits.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    return 1.0 / (1.0 + np.exp(-clipped))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of ``boxes`` (Nx4)."""
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def non_max_suppression(
    boxes: np.ndarray, scores: np.ndarray, *, min_score: float, iou: float = NMS_IOU
) -> list[int]:
    """Indices of the boxes kept, best first: each box above ``min_score`` that overlaps no
    better kept box by more than ``iou``."""
    order = [int(i) for i in np.argsort(-scores) if scores[i] >= min_score]
    kept: list[int] = []
    for index in order:
        if not kept or box_iou(boxes[index], boxes[kept]).max() <= iou:
            kept.append(index)
    return kept


@dataclass(frozen=True)
class Letterbox:
    """How a photo was fitted into the detector's square: scale and offset in pixels."""

    size: int
    scale: float
    left: int
    top: int
    width: int
    height: int

    @property
    def fitted_size(self) -> tuple[int, int]:
        """The photo's size inside the square (width, height; at least 1 px each)."""
        return max(1, round(self.width * self.scale)), max(1, round(self.height * self.scale))

    def to_image(self, box: np.ndarray) -> tuple[float, float, float, float]:
        """A 0..1 box of the square → the photo's pixels, clipped to the photo."""
        x0, y0, x1, y1 = (float(v) * self.size for v in box)
        return (
            min(max((x0 - self.left) / self.scale, 0.0), self.width),
            min(max((y0 - self.top) / self.scale, 0.0), self.height),
            min(max((x1 - self.left) / self.scale, 0.0), self.width),
            min(max((y1 - self.top) / self.scale, 0.0), self.height),
        )


def fit_square(width: int, height: int, size: int) -> Letterbox:
    """How a ``width`` x ``height`` photo fits inside a ``size`` square (aspect kept, centred)."""
    scale = size / max(width, height)
    fitted_w, fitted_h = max(1, round(width * scale)), max(1, round(height * scale))
    return Letterbox(size, scale, (size - fitted_w) // 2, (size - fitted_h) // 2, width, height)


Photo = Image.Image | np.ndarray  # RGB, or its uint8 HxWx3 pixels
# A Pillow photo over this many pixels is box-reduced by Pillow first (by the largest whole
# factor that leaves its longer side at least ``REDUCING_GAP`` times the person square's):
# the resize then reads a small copy, not an array of the whole photo (144 MB at 48 MP).
REDUCE_ABOVE_PIXELS = 16_000_000
REDUCING_GAP = 2.0


def _pixels(image: Photo) -> torch.Tensor:
    """The photo (or, for a big Pillow image, a box-reduced copy of it) as a uint8 1x3xHxW
    channels-last tensor: a view of an array's pixels."""
    if isinstance(image, Image.Image):
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        if rgb.width * rgb.height > REDUCE_ABOVE_PIXELS:
            factor = int(max(rgb.size) / (REDUCING_GAP * PERSON_ANCHORS[0]))
            rgb = rgb.reduce(factor) if factor > 1 else rgb
        image = np.asarray(rgb)
    with warnings.catch_warnings():  # PIL-backed arrays are read-only; never written
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(image).permute(2, 0, 1)[None]


def _size(image: Photo) -> tuple[int, int]:
    """The photo's (width, height)."""
    return image.size if isinstance(image, Image.Image) else (image.shape[1], image.shape[0])


def _fitted(pixels: torch.Tensor, fit: Letterbox) -> torch.Tensor:
    """``pixels`` (uint8 1x3xHxW, the photo or a smaller copy of it) resized to the photo's
    fitted size: antialiased bilinear, uint8."""
    width, height = fit.fitted_size
    with torch.inference_mode():
        return F.interpolate(
            pixels, size=(height, width), mode="bilinear", antialias=True, align_corners=False
        )


def _square_tensor(fitted: torch.Tensor, fit: Letterbox) -> torch.Tensor:
    """``fitted`` (uint8 1x3xhxw, the photo at its fitted size) on a black square,
    1x3xSxS in -1..1, channels-last."""
    height, width = fitted.shape[2:]
    with torch.inference_mode():
        square = torch.full((1, fit.size, fit.size, 3), -1.0)  # black
        inside = square[0, fit.top : fit.top + height, fit.left : fit.left + width]
        inside.copy_(fitted[0].permute(1, 2, 0)).div_(127.5).sub_(1.0)
        return square.permute(0, 3, 1, 2)


def letterbox(image: Photo, size: int) -> tuple[torch.Tensor, Letterbox]:
    """The photo fitted inside a black ``size`` square (aspect kept, centred), as a
    1x3xSxS float tensor in -1..1, and the fit."""
    fit = fit_square(*_size(image), size)
    return _square_tensor(_fitted(_pixels(image), fit), fit), fit


@dataclass(frozen=True)
class DetectorInputs:
    """Both detectors' input squares, made from ONE resize of the photo."""

    person: torch.Tensor
    person_fit: Letterbox
    face: torch.Tensor
    face_fit: Letterbox


def detector_inputs(image: Photo) -> DetectorInputs:
    """The photo resized once, to the person detector's square (224, exactly
    :func:`letterbox`'s); the face detector's (128) is resized from that small copy, not
    from the photo again. The face fit is still the photo's own, so its boxes map back to
    the photo."""
    width, height = _size(image)
    person_fit = fit_square(width, height, PERSON_ANCHORS[0])
    small = _fitted(_pixels(image), person_fit)
    face_fit = fit_square(width, height, FACE_ANCHORS[0])
    return DetectorInputs(
        _square_tensor(small, person_fit),
        person_fit,
        _square_tensor(_fitted(small, face_fit), face_fit),
        face_fit,
    )


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the photo's pixels


@dataclass(frozen=True)
class PersonEvidence:
    """The detectors' best scores for a photo and their detections (after NMS)."""

    person_score: float
    face_score: float
    people: list[Detection] = field(default_factory=list)
    faces: list[Detection] = field(default_factory=list)


def person_present(evidence: PersonEvidence) -> bool:
    """The rule: a confident whole-person detection or a confident face."""
    return evidence.person_score >= PERSON_THRESHOLD or evidence.face_score >= FACE_THRESHOLD


class PersonDetector:
    """Both detectors, loaded. :meth:`present` decides (the face detector first, the person
    detector only when the face leaves it open); :meth:`evidence` runs both, for callers
    that want every score and box.

    The networks run channels-last (the input squares are HWC arrays already) as frozen
    TorchScript traces of their fixed input shapes, built on first use (``frozen=False``:
    the modules themselves); same scores as the eager modules."""

    def __init__(
        self, person_net: PoseDetectorNet, face_net: FaceDetectorNet, *, frozen: bool = True
    ) -> None:
        self.person_net = person_net.eval().to(memory_format=torch.channels_last)
        self.face_net = face_net.eval().to(memory_format=torch.channels_last)
        self.frozen = frozen
        self._anchors = {
            "person": ssd_anchors(*PERSON_ANCHORS),
            "face": ssd_anchors(*FACE_ANCHORS),
        }
        self._runtimes: dict[str, Callable] = {}
        self._lock = threading.Lock()

    def present(self, image: Photo) -> bool:
        """:func:`person_present` of the photo, at the least cost: the face detector (128x128,
        about a quarter of the person detector's time) runs first, and a confident face
        (>= :data:`FACE_THRESHOLD`) decides without the person detector. Same answer as
        ``person_present(self.evidence(image))``."""
        inputs = detector_inputs(image)
        face_score = self._best_score("face", inputs.face)
        if face_score >= FACE_THRESHOLD:
            return True
        return self._best_score("person", inputs.person) >= PERSON_THRESHOLD

    def evidence(self, image: Photo) -> PersonEvidence:
        inputs = detector_inputs(image)
        face_score, faces = self._run("face", inputs.face, inputs.face_fit)
        person_score, people = self._run("person", inputs.person, inputs.person_fit)
        return PersonEvidence(person_score, face_score, people, faces)

    def runtime(self, kind: str) -> Callable:
        """What runs the ``kind`` ("face" or "person") network on its 1x3xSxS input square."""
        runtime = self._runtimes.get(kind)
        if runtime is None:
            with self._lock:
                runtime = self._runtimes.get(kind)
                if runtime is None:
                    net = self.face_net if kind == "face" else self.person_net
                    runtime = _frozen(net) if self.frozen else net
                    self._runtimes[kind] = runtime
        return runtime

    def _best_score(self, kind: str, tensor: torch.Tensor) -> float:
        with torch.inference_mode():
            logits, _ = self.runtime(kind)(tensor)
        return float(sigmoid_scores(logits[0].numpy()).max())

    def _run(
        self, kind: str, tensor: torch.Tensor, fit: Letterbox
    ) -> tuple[float, list[Detection]]:
        with torch.inference_mode():
            logits, raw = self.runtime(kind)(tensor)
        scores = sigmoid_scores(logits[0].numpy())
        boxes = decode_boxes(raw[0].numpy(), self._anchors[kind], fit.size)
        kept = non_max_suppression(boxes, scores, min_score=MIN_DETECTION_SCORE)
        detections = [Detection(float(scores[i]), fit.to_image(boxes[i])) for i in kept]
        return float(scores.max()), detections


def _frozen(net: torch.nn.Module) -> Callable:
    """A frozen TorchScript trace of ``net`` for its 1x3xSxS channels-last input; or the
    module itself where this torch has no TorchScript (eager is correct too)."""
    example = torch.zeros(1, 3, net.input_size, net.input_size)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of compile
            traced = torch.jit.trace(
                net, example.contiguous(memory_format=torch.channels_last), check_trace=False
            )
            return torch.jit.freeze(traced.eval())
    except Exception as exc:
        logger.warning("running the %s eagerly (%s)", type(net).__name__, exc)
        return net
