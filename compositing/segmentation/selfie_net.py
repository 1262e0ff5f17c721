"""MediaPipe's selfie-segmentation network as a plain ``torch.nn.Module``.

The architecture is the one inside ``selfie_segmentation.tflite`` (general, 256x256 input) and
``selfie_segmentation_landscape.tflite`` (144x256): a MobileNetV3-small style encoder (hard-swish,
squeeze-excite, TensorFlow "SAME" padding), a context head with a global gate, and three
attention-gated decoder stages joined by bilinear 2x upsampling, ending in a 2x2 stride-2
transposed convolution (MediaPipe's custom ``Convolution2DTransposeBias``). Both variants
share every layer shape; only the input size differs.

Layers are registered in the order TensorFlow created them (``conv2d``, ``conv2d_1``, …,
``depthwise_conv2d``, …), which is what :mod:`.weights.tflite_convert` relies on to map weights.

Input: float32 Nx3xHxW RGB in 0..1 (H, W multiples of 16). Output of ``forward``: logits
Nx1xHxW; ``torch.sigmoid`` of it is the person probability the TFLite model outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SelfieSegmentationNet", "selfie_segmentation_net"]


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's "SAME" padding (asymmetric when the stride is 2).

    TensorFlow pads ``total = max((ceil(n / s) - 1) * s + k - n, 0)`` pixels per axis and puts
    the odd pixel at the bottom/right; PyTorch's ``padding=`` is symmetric, so a stride-2
    layer pads explicitly in ``forward`` and a stride-1 layer uses the symmetric built-in.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        symmetric = stride == 1 and kernel_size % 2 == 1
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2 if symmetric else 0,
            groups=groups,
            bias=True,
        )
        self._explicit_pad = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._explicit_pad:
            x = F.pad(x, _same_padding(x.shape[-2], x.shape[-1], self.kernel_size, self.stride))
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)


def _same_padding(
    height: int, width: int, kernel: tuple[int, ...], stride: tuple[int, ...]
) -> tuple[int, int, int, int]:
    def axis(n: int, k: int, s: int) -> tuple[int, int]:
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    top, bottom = axis(height, kernel[0], stride[0])
    left, right = axis(width, kernel[1], stride[1])
    return left, right, top, bottom


class PointwiseConv2d(nn.Conv2d):
    """1x1 convolution with bias (``nn.Conv2d`` parameters and ``state_dict``).

    On a channels-last tensor the pixels' channel vectors are contiguous rows, so the
    convolution is one matrix product over a free NHWC view (``F.linear``); PyTorch's own
    dispatch picks a slow im2col path for the small feature maps of this network.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_contiguous(memory_format=torch.channels_last):
            y = F.linear(x.permute(0, 2, 3, 1), self.weight.flatten(1), self.bias)
            return y.permute(0, 3, 1, 2)
        return super().forward(x)


def pointwise(in_channels: int, out_channels: int) -> PointwiseConv2d:
    """1x1 convolution with bias."""
    return PointwiseConv2d(in_channels, out_channels)


def _inplace() -> bool:
    # In-place activations save a full-size allocation per layer at inference; autograd
    # (fine-tuning) needs the pre-activation values, so only when gradients are off.
    return not torch.is_grad_enabled()


def _linear(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1x1 convolution applied to NxC vectors (a conv call costs ~10x more at 1x1)."""
    return F.linear(x, conv.weight.flatten(1), conv.bias)


class ChannelGate(nn.Module):
    """Squeeze-excite gate: ``sigmoid(expand(relu(reduce(mean_hw(x)))))``, shape NxCx1x1."""

    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.reduce = pointwise(channels, squeezed)
        self.expand = pointwise(squeezed, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        squeezed = F.relu(_linear(x.mean((2, 3)), self.reduce), inplace=True)
        return torch.sigmoid(_linear(squeezed, self.expand)).view(n, c, 1, 1)


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand → kxk depthwise → [squeeze-excite] → 1x1 project.

    The residual connection is used when the block keeps resolution and width.
    """

    def __init__(
        self,
        in_channels: int,
        expanded: int,
        out_channels: int,
        *,
        kernel_size: int,
        stride: int,
        hard_swish: bool,
        se_channels: int | None,
    ) -> None:
        super().__init__()
        self.expand = pointwise(in_channels, expanded)
        self.depthwise = Conv2dSame(expanded, expanded, kernel_size, stride, groups=expanded)
        self.se = ChannelGate(expanded, se_channels) if se_channels else None
        self.project = pointwise(expanded, out_channels)
        self.activation = F.hardswish if hard_swish else F.relu
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inplace = _inplace()
        y = self.activation(self.expand(x), inplace=inplace)
        y = self.activation(self.depthwise(y), inplace=inplace)
        if self.se is not None:
            y = y * self.se(y)
        y = self.project(y)
        if not self.use_residual:
            return y
        return y.add_(x) if _inplace() else x + y


class Encoder(nn.Module):
    """Stem + 8 inverted residual blocks; returns the features at strides 2, 4, 8 and 16."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = Conv2dSame(3, 16, 3, stride=2)

        def block(
            cin: int, exp: int, cout: int, k: int, s: int, hs: bool, se: int | None
        ) -> InvertedResidual:
            return InvertedResidual(
                cin, exp, cout, kernel_size=k, stride=s, hard_swish=hs, se_channels=se
            )

        self.block1 = block(16, 16, 16, 3, 2, False, 8)  # stride 4
        self.block2 = block(16, 72, 24, 3, 2, False, None)  # stride 8
        self.block3 = block(24, 88, 24, 3, 1, False, None)
        self.block4 = block(24, 96, 32, 5, 2, True, 24)  # stride 16
        self.block5 = block(32, 128, 32, 5, 1, True, 32)
        self.block6 = block(32, 128, 32, 5, 1, True, 32)
        self.block7 = block(32, 96, 32, 5, 1, True, 24)
        self.block8 = block(32, 96, 32, 5, 1, True, 24)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        s2 = F.hardswish(self.stem(x), inplace=_inplace())
        s4 = self.block1(s2)
        s8 = self.block3(self.block2(s4))
        s16 = self.block4(s8)
        for block in (self.block5, self.block6, self.block7, self.block8):
            s16 = block(s16)
        return s2, s4, s8, s16


class ContextHead(nn.Module):
    """LR-ASPP style head: ``relu(branch(x)) * sigmoid(gate(mean_hw(x)))``, then 1x1 project.

    The TFLite graph upsamples before the projection; a 1x1 convolution commutes with
    bilinear resampling (its weights sum to one), so projecting first is the same function at
    a quarter of the cost. The caller upsamples.
    """

    def __init__(self, in_channels: int, channels: int, out_channels: int) -> None:
        super().__init__()
        self.branch = pointwise(in_channels, channels)
        self.gate = pointwise(in_channels, channels)
        self.project = pointwise(channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(_linear(x.mean((2, 3)), self.gate)).view(x.shape[0], -1, 1, 1)
        return self.project(F.relu(self.branch(x), inplace=_inplace()) * gate)


class DecoderStage(nn.Module):
    """Attention-gated skip fusion followed by a small residual depthwise refinement.

    ``y = skip * gate(skip + up) + up``; ``y = relu(conv(y))``; ``y = y + relu(dw(y))``;
    then an optional 1x1 projection to the next stage's width (applied before the caller's
    2x upsampling, which commutes with it).
    """

    def __init__(self, channels: int, out_channels: int | None) -> None:
        super().__init__()
        self.attention = ChannelGate(channels, channels)
        self.conv = pointwise(channels, channels)
        self.depthwise = Conv2dSame(channels, channels, 3, groups=channels)
        self.project = pointwise(channels, out_channels) if out_channels else None

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        inplace = _inplace()
        y = torch.addcmul(up, skip, self.attention(skip + up))
        y = F.relu(self.conv(y), inplace=inplace)
        refined = F.relu(self.depthwise(y), inplace=inplace)
        y = refined.add_(y) if inplace else y + refined
        if self.project is not None:
            y = self.project(y)
        return y


class SubpixelConvTranspose2d(nn.ConvTranspose2d):
    """Transposed convolution whose stride equals its kernel size (no overlap, no padding).

    Each input pixel writes one kxk output tile, so it equals a 1x1 convolution to
    ``out·k²`` channels followed by a depth-to-space rearrangement (``pixel_shuffle(k)``),
    several times faster than oneDNN's deconvolution. Parameters keep
    ``nn.ConvTranspose2d``'s layout (in x out x k x k).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        k, out = self.kernel_size[0], self.out_channels
        n, _, h, w = x.shape
        # weight[i, o, ky, kx] -> matrix[(o, ky, kx), i]; each input pixel gives one kxk tile.
        weight = self.weight.permute(1, 2, 3, 0).reshape(-1, self.in_channels)
        bias = self.bias.repeat_interleave(k * k) if self.bias is not None else None
        if x.is_contiguous(memory_format=torch.channels_last):
            tiles = F.linear(x.permute(0, 2, 3, 1), weight, bias)  # Nxhxwx(out·k·k)
            tiles = tiles.view(n, h, w, out, k, k).permute(0, 3, 1, 4, 2, 5)
            return tiles.reshape(n, out, h * k, w * k)
        return F.pixel_shuffle(F.conv2d(x, weight[:, :, None, None], bias), k)


class SelfieSegmentationNet(nn.Module):
    """Encoder-decoder person segmentation network; ``forward`` returns logits Nx1xHxW."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = ContextHead(32, 128, 24)
        self.decoder8 = DecoderStage(24, 16)
        self.decoder4 = DecoderStage(16, 16)
        self.decoder2 = DecoderStage(16, None)
        # MediaPipe's Convolution2DTransposeBias: 2x2 kernel, stride 2, no overlap/padding.
        self.classifier = SubpixelConvTranspose2d(16, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s2, s4, s8, s16 = self.encoder(x)
        y = self.head(s16)
        y = self.decoder8(_upsample(y, s8), s8)
        y = self.decoder4(_upsample(y, s4), s4)
        y = self.decoder2(_upsample(y, s2), s2)
        return self.classifier(y)


def _upsample(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    # TFLite RESIZE_BILINEAR(align_corners=False, half_pixel_centers=True) is PyTorch's
    # align_corners=False convention (source index clamped at 0).
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def selfie_segmentation_net(
    state_dict: dict[str, torch.Tensor] | None = None,
) -> SelfieSegmentationNet:
    """Build the network, in eval mode, optionally loading converted weights (strict)."""
    model = SelfieSegmentationNet()
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    return model.eval()
