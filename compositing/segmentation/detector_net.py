"""MediaPipe's two detectors as plain ``torch.nn.Module``s: evidence that a photo shows a person.

- :class:`FaceDetectorNet` is ``face_detection_short_range.tflite`` (BlazeFace, 128x128
  input): a 5x5 stride-2 stem and 16 "BlazeBlocks" (depthwise 3x3 + 1x1, residual with a
  max-pooled, zero-channel-padded shortcut), ReLU, TensorFlow SAME padding; anchors at
  strides 8 (2 a cell) and 16 (6 a cell): 896 in all.
- :class:`PoseDetectorNet` is ``pose_detection.tflite`` (BlazePose's person detector,
  224x224): a MobileNetV2 backbone (ReLU6, explicit symmetric zero padding), a small
  feature pyramid back up to stride 8 (bilinear upsampling, lateral branches, residual
  depthwise refinements) and SSD heads on depth-to-space features at strides 8, 16 and 32
  (2, 2 and 6 anchors a cell): 2254 anchors. It finds whole people, small and full-body
  ones too.

Input: float32 Nx3xHxW RGB scaled to -1..1 (MediaPipe's ``ImageToTensor`` range).
``forward`` returns ``(scores, boxes)``: raw score logits NxA and the regressors NxAxK in
input pixels (K = 16 for faces, 12 for people), in the anchor order of
:mod:`.person_detector` (row-major cells, then the anchors of a cell).

``tflite_layers()`` lists the convolutions in the order the TFLite graph runs them, which is
how :mod:`.weights.detector_convert` maps weights (and checks every shape, stride, padding and
fused activation on the way).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .selfie_net import Conv2dSame

__all__ = ["FaceDetectorNet", "LayerSpec", "PoseDetectorNet"]

# (module, fused activation as TFLite names it: 0 none, 1 ReLU, 3 ReLU6)
LayerSpec = tuple[nn.Conv2d, int]
_NONE, _RELU, _RELU6 = 0, 1, 3


def _flatten(x: torch.Tensor, per_anchor: int) -> torch.Tensor:
    """NxCxHxW head output → Nx(H·W·C/per_anchor)xper_anchor, TFLite's NHWC reshape order."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, per_anchor)


def depth_to_space(x: torch.Tensor, block: int) -> torch.Tensor:
    """TFLite's DEPTH_TO_SPACE (DCR order: channel ``(i·b + j)·C + c`` goes to pixel (i, j)
    of the block), which is not ``F.pixel_shuffle``'s CRD order."""
    n, c, h, w = x.shape
    out = c // (block * block)
    x = x.view(n, block, block, out, h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, out, h * block, w * block)


# ------------------------------------------------------------------------- BlazeFace


class BlazeBlock(nn.Module):
    """``relu(shortcut(x) + pointwise(depthwise(x)))``; the shortcut max-pools 2x2 when the
    block strides and zero-pads the channels up to the output width."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.depthwise = Conv2dSame(cin, cin, 3, stride=stride, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)
        self.stride = stride
        self.extra_channels = cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = F.max_pool2d(x, 2) if self.stride == 2 else x
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        return F.relu(shortcut + self.pointwise(self.depthwise(x)))


class FaceDetectorNet(nn.Module):
    """BlazeFace short range: 128x128 → 896 face scores and 16 regressors each (box centre
    offset, size, 6 key points)."""

    input_size = 128
    _WIDTHS = (24, 24, 28, 32, 36, 42, 48, 56, 64, 72, 80, 88, 96, 96, 96, 96, 96)
    _STRIDE2 = (3, 6, 12)  # the blocks (1-based output index) that halve the resolution

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv2dSame(3, 24, 5, stride=2)
        widths = self._WIDTHS
        self.blocks = nn.ModuleList(
            BlazeBlock(widths[i - 1], widths[i], 2 if i in self._STRIDE2 else 1)
            for i in range(1, len(widths))
        )
        self.classifier8 = nn.Conv2d(88, 2, 1)
        self.classifier16 = nn.Conv2d(96, 6, 1)
        self.regressor8 = nn.Conv2d(88, 32, 1)
        self.regressor16 = nn.Conv2d(96, 96, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.stem(x))
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index == 10:  # 16x16x88: the stride-8 features
                s8 = x
        scores = torch.cat(
            [_flatten(self.classifier8(s8), 1), _flatten(self.classifier16(x), 1)], dim=1
        )
        boxes = torch.cat(
            [_flatten(self.regressor8(s8), 16), _flatten(self.regressor16(x), 16)], dim=1
        )
        return scores[..., 0], boxes

    def tflite_layers(self) -> list[LayerSpec]:
        layers: list[LayerSpec] = [(self.stem, _NONE)]  # ReLU is a separate op here
        for block in self.blocks:
            layers += [(block.depthwise, _NONE), (block.pointwise, _NONE)]
        heads = (self.classifier8, self.classifier16, self.regressor8, self.regressor16)
        return layers + [(head, _NONE) for head in heads]


# ------------------------------------------------------------------ BlazePose detector


def _conv(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    """Convolution with symmetric zero padding ``kernel // 2`` (the graph's explicit PAD
    before a stride-2 VALID convolution, or SAME at stride 1)."""
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups)


def _depthwise(channels: int, kernel: int = 3, stride: int = 1) -> nn.Conv2d:
    return _conv(channels, channels, kernel, stride, groups=channels)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: ``relu6(expand) → relu6(depthwise) → project`` (+ x when the shape
    is kept). ``expand`` is absent for the first block."""

    def __init__(
        self, cin: int, expanded: int, cout: int, kernel: int = 3, stride: int = 1
    ) -> None:
        super().__init__()
        self.expand = _conv(cin, expanded) if expanded != cin else None
        self.depthwise = _depthwise(expanded, kernel, stride)
        self.project = _conv(expanded, cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y

    def layers(self) -> list[LayerSpec]:
        expand = [(self.expand, _RELU6)] if self.expand is not None else []
        return [*expand, (self.depthwise, _RELU6), (self.project, _NONE)]


class Lateral(nn.Module):
    """A skip branch of the pyramid: linear depthwise 3x3, then ``relu6`` 1x1."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = _depthwise(cin)
        self.pointwise = _conv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.pointwise(self.depthwise(x)))

    def layers(self) -> list[LayerSpec]:
        return [(self.depthwise, _NONE), (self.pointwise, _RELU6)]


class Refine(nn.Module):
    """``relu6(x + pointwise(depthwise(x)))`` (both linear; the ReLU6 is fused in the ADD)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = _depthwise(channels)
        self.pointwise = _conv(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + self.pointwise(self.depthwise(x)))

    def layers(self) -> list[LayerSpec]:
        return [(self.depthwise, _NONE), (self.pointwise, _NONE)]


class UpStage(nn.Module):
    """Bilinear 2x up, ``relu6`` 1x1 to the skip's width, add the lateral, refine twice."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.reduce = _conv(cin, cout)
        self.refine = nn.Sequential(Refine(cout), Refine(cout))

    def forward(self, x: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, size=lateral.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(lateral + F.relu6(self.reduce(up)))

    def layers(self) -> list[LayerSpec]:
        return [(self.reduce, _RELU6), *self.refine[0].layers(), *self.refine[1].layers()]


class SsdHead(nn.Module):
    """Scores and regressors of one pyramid level: each a linear stride-2 depthwise 3x3 then
    a 1x1, on the level's depth-to-space features."""

    def __init__(self, channels: int, anchors: int, coords: int = 12) -> None:
        super().__init__()
        self.score_depthwise = _depthwise(channels, 3, 2)
        self.score = _conv(channels, anchors)
        self.box_depthwise = _depthwise(channels, 3, 2)
        self.box = _conv(channels, anchors * coords)
        self.coords = coords

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = _flatten(self.score(self.score_depthwise(x)), 1)
        boxes = _flatten(self.box(self.box_depthwise(x)), self.coords)
        return scores, boxes

    def layers(self) -> list[LayerSpec]:
        convs = (self.score_depthwise, self.score, self.box_depthwise, self.box)
        return [(conv, _NONE) for conv in convs]


class PoseDetectorNet(nn.Module):
    """BlazePose person detector: 224x224 → 2254 person scores and 12 regressors each (box,
    then 4 key points: hip centre, full-body circle point, shoulder centre, upper-body
    circle point)."""

    input_size = 224
    # (in, expanded, out, kernel, stride) of the backbone's inverted residual blocks
    _BLOCKS = (
        (24, 24, 16, 3, 1),
        (16, 64, 24, 3, 2),
        (24, 144, 24, 3, 1),
        (24, 144, 40, 5, 2),
        (40, 240, 40, 5, 1),  # index 4: stride 8, lateral to the 28x28 level
        (40, 240, 80, 3, 2),
        (80, 480, 80, 3, 1),
        (80, 480, 80, 3, 1),
        (80, 480, 112, 5, 1),
        (112, 672, 112, 5, 1),
        (112, 672, 112, 5, 1),  # index 10: stride 16, lateral to the 14x14 level
        (112, 672, 192, 5, 2),
        (192, 1152, 192, 5, 1),
        (192, 1152, 192, 5, 1),
        (192, 1152, 192, 5, 1),
    )

    def __init__(self) -> None:
        super().__init__()
        self.stem = _conv(3, 24, 3, 2)
        self.blocks = nn.ModuleList(InvertedResidual(*spec) for spec in self._BLOCKS)
        self.top_expand = _conv(192, 1152)
        self.top_depthwise = _depthwise(1152)
        self.lateral8 = Lateral(40, 96)
        self.lateral16 = Lateral(112, 192)
        self.up16 = UpStage(1152, 192)
        self.up8 = UpStage(192, 96)
        self.head8 = SsdHead(24, 2)
        self.head16 = SsdHead(48, 2)
        self.head32 = SsdHead(288, 6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu6(self.stem(x))
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index == 4:
                s8 = x
            elif index == 10:
                s16 = x
        top = F.relu6(self.top_depthwise(F.relu6(self.top_expand(x))))
        p16 = self.up16(top, self.lateral16(s16))
        p8 = self.up8(p16, self.lateral8(s8))
        levels = (
            self.head8(depth_to_space(p8, 2)),
            self.head16(depth_to_space(p16, 2)),
            self.head32(depth_to_space(top, 2)),
        )
        scores = torch.cat([level[0] for level in levels], dim=1)[..., 0]
        return scores, torch.cat([level[1] for level in levels], dim=1)

    def tflite_layers(self) -> list[LayerSpec]:
        """The graph interleaves the lateral branches with the backbone: each runs right after
        the expand convolution of the block that follows its source."""
        layers: list[LayerSpec] = [(self.stem, _RELU6)]
        for index, block in enumerate(self.blocks):
            block_layers = block.layers()
            if index in (5, 11):
                lateral = self.lateral8 if index == 5 else self.lateral16
                block_layers[1:1] = lateral.layers()
            layers += block_layers
        layers += [(self.top_expand, _RELU6), (self.top_depthwise, _RELU6)]
        layers += self.up16.layers() + self.up8.layers()
        return layers + self.head8.layers() + self.head16.layers() + self.head32.layers()
