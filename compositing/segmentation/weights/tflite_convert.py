"""Read MediaPipe's selfie-segmentation ``.tflite`` flatbuffer and turn it into a state dict.

Only the parts needed for conversion are read: the float weights of every convolution
(fp16 constants behind ``DEQUANTIZE`` ops are widened to float32) and the options that
decide the arithmetic (strides, SAME padding, resize flags, the custom transposed
convolution's parameters). The conversion refuses a graph that differs from what
:class:`..selfie_net.SelfieSegmentationNet` computes instead of producing a wrong model.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import WeightsError

# tflite schema enum values (tflite/BuiltinOperator.py, TensorType.py, Padding.py).
_OP_CONV_2D = 3
_OP_DEPTHWISE_CONV_2D = 4
_OP_RESIZE_BILINEAR = 23
_OP_CUSTOM = 32
_TYPE_FLOAT32 = 0
_TYPE_FLOAT16 = 1
_PADDING_SAME = 0
_TRANSPOSE_CONV_CUSTOM = "Convolution2DTransposeBias"


@dataclass
class TfliteLayer:
    """One weighted layer of the graph: kernel in TFLite layout (OxHxWxI, depthwise 1xHxWxC)."""

    name: str
    kind: str  # "conv", "depthwise" or "transpose"
    kernel: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    same_padding: bool


@dataclass
class TfliteGraph:
    layers: list[TfliteLayer] = field(default_factory=list)
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    resize_flags: list[tuple[bool, bool]] = field(default_factory=list)


def read_tflite(data: bytes) -> TfliteGraph:
    """Parse a ``.tflite`` file's bytes into the weighted layers and resize flags."""
    import tflite  # only needed when converting

    reader = _GraphReader(tflite, tflite.Model.GetRootAsModel(data, 0))
    graph = reader.graph
    result = TfliteGraph(
        input_shape=tuple(int(s) for s in graph.Tensors(graph.Inputs(0)).ShapeAsNumpy()),
        output_shape=tuple(int(s) for s in graph.Tensors(graph.Outputs(0)).ShapeAsNumpy()),
    )
    for k in range(graph.OperatorsLength()):
        reader.read_operator(k, result)
    return result


class _GraphReader:
    """Reads the first subgraph of a parsed flatbuffer ``model`` (``tflite`` is the schema
    package, passed in so it is imported only when converting)."""

    def __init__(self, tflite: Any, model: Any) -> None:
        self.tflite = tflite
        self.model = model
        self.graph = model.Subgraphs(0)
        # A DEQUANTIZE op maps its fp16 constant to a float32 tensor used by the layer.
        self.producer_of: dict[int, int] = {}
        for k in range(self.graph.OperatorsLength()):
            for out in self.graph.Operators(k).OutputsAsNumpy():
                self.producer_of[int(out)] = k

    def tensor_name(self, index: int) -> str:
        return self.graph.Tensors(index).Name().decode()

    def constant(self, index: int) -> np.ndarray:
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        shape = tuple(int(s) for s in tensor.ShapeAsNumpy())
        dtype = {_TYPE_FLOAT16: np.float16, _TYPE_FLOAT32: np.float32}.get(tensor.Type())
        if dtype is None or isinstance(raw, int):
            raise WeightsError(f"unexpected constant tensor {self.tensor_name(index)!r}")
        return raw.view(dtype).reshape(shape).astype(np.float32)

    def weight(self, index: int) -> np.ndarray:
        k = self.producer_of.get(index)
        if k is not None:  # the output of DEQUANTIZE(constant)
            return self.constant(int(self.graph.Operators(k).Inputs(0)))
        return self.constant(index)

    def layer(self, op: Any, kind: str, stride: tuple[int, int], same: bool) -> TfliteLayer:
        return TfliteLayer(
            name=_layer_name(self.tensor_name(int(op.Inputs(1)))),
            kind=kind,
            kernel=self.weight(int(op.Inputs(1))),
            bias=self.weight(int(op.Inputs(2))),
            stride=stride,
            same_padding=same,
        )

    def read_operator(self, k: int, result: TfliteGraph) -> None:
        """Add operator ``k``'s layer or resize flags to ``result`` (others are skipped)."""
        op = self.graph.Operators(k)
        code_entry = self.model.OperatorCodes(op.OpcodeIndex())
        code = max(code_entry.BuiltinCode(), code_entry.DeprecatedBuiltinCode())
        if code in (_OP_CONV_2D, _OP_DEPTHWISE_CONV_2D):
            result.layers.append(self._convolution(k, op, code))
        elif code == _OP_RESIZE_BILINEAR:
            opts = self.tflite.ResizeBilinearOptions()
            options = op.BuiltinOptions()
            opts.Init(options.Bytes, options.Pos)
            result.resize_flags.append((bool(opts.AlignCorners()), bool(opts.HalfPixelCenters())))
        elif code == _OP_CUSTOM:
            custom = code_entry.CustomCode().decode()
            if custom != _TRANSPOSE_CONV_CUSTOM:
                raise WeightsError(f"unsupported custom op {custom!r}")
            # TfLiteTransposeConvParams {padding, stride_width, stride_height} as 3 int32s;
            # padding 1 = kTfLitePaddingSame.
            padding, stride_w, stride_h = struct.unpack("<3i", op.CustomOptionsAsNumpy().tobytes())
            result.layers.append(self.layer(op, "transpose", (stride_h, stride_w), padding == 1))

    def _convolution(self, k: int, op: Any, code: int) -> TfliteLayer:
        conv = code == _OP_CONV_2D
        opts = self.tflite.Conv2DOptions() if conv else self.tflite.DepthwiseConv2DOptions()
        options = op.BuiltinOptions()
        opts.Init(options.Bytes, options.Pos)
        if opts.FusedActivationFunction() != 0:
            raise WeightsError(f"layer {k}: fused activations are not supported")
        if conv and (opts.DilationHFactor(), opts.DilationWFactor()) != (1, 1):
            raise WeightsError(f"layer {k}: dilation is not supported")
        if not conv and opts.DepthMultiplier() != 1:
            raise WeightsError(f"layer {k}: depth multiplier must be 1")
        stride = (opts.StrideH(), opts.StrideW())
        same = opts.Padding() == _PADDING_SAME
        return self.layer(op, "conv" if conv else "depthwise", stride, same)


def _layer_name(kernel_tensor_name: str) -> str:
    return kernel_tensor_name.split("/")[0]


def _layer_order(name: str) -> tuple[str, int]:
    """``conv2d`` → ("conv2d", 0), ``conv2d_12`` → ("conv2d", 12): Keras creation order."""
    match = re.fullmatch(r"(.*?)(?:_(\d+))?", name)
    assert match is not None
    return match.group(1), int(match.group(2) or 0)


def state_dict_from_tflite(data: bytes, model: nn.Module) -> dict[str, torch.Tensor]:
    """Map the graph's weights onto ``model``'s layers, checking every shape and option.

    Regular and depthwise convolutions are matched in Keras creation order (``conv2d``,
    ``conv2d_1``, …) to the model's ``nn.Conv2d`` layers in registration order; the single
    transposed convolution to the model's ``nn.ConvTranspose2d``.
    """
    graph = read_tflite(data)
    for align_corners, half_pixel in graph.resize_flags:
        if align_corners or not half_pixel:
            raise WeightsError("RESIZE_BILINEAR flags differ from align_corners=False, half_pixel")

    by_kind: dict[str, list[TfliteLayer]] = {"conv": [], "depthwise": [], "transpose": []}
    for layer in graph.layers:
        by_kind[layer.kind].append(layer)
    for layers in by_kind.values():
        layers.sort(key=lambda layer: _layer_order(layer.name))

    targets: dict[str, list[tuple[str, nn.Module]]] = {"conv": [], "depthwise": [], "transpose": []}
    for path, module in model.named_modules():
        if isinstance(module, nn.ConvTranspose2d):
            targets["transpose"].append((path, module))
        elif isinstance(module, nn.Conv2d):
            is_depthwise = module.groups > 1 and module.groups == module.in_channels
            targets["depthwise" if is_depthwise else "conv"].append((path, module))

    state: dict[str, torch.Tensor] = {}
    for kind, layers in by_kind.items():
        if len(layers) != len(targets[kind]):
            raise WeightsError(
                f"graph has {len(layers)} {kind} layers, the network {len(targets[kind])}"
            )
        for layer, (path, module) in zip(layers, targets[kind], strict=True):
            kernel = torch.from_numpy(_to_torch_layout(layer))
            if tuple(kernel.shape) != tuple(module.weight.shape):
                raise WeightsError(
                    f"{layer.name} -> {path}: shape {tuple(kernel.shape)} "
                    f"!= {tuple(module.weight.shape)}"
                )
            if tuple(layer.stride) != tuple(module.stride):
                raise WeightsError(f"{layer.name} -> {path}: stride {layer.stride}")
            if not layer.same_padding and module.kernel_size != (1, 1):
                raise WeightsError(f"{layer.name} -> {path}: VALID padding is not supported")
            state[f"{path}.weight"] = kernel.contiguous()
            state[f"{path}.bias"] = torch.from_numpy(layer.bias.copy())
    return state


def _to_torch_layout(layer: TfliteLayer) -> np.ndarray:
    if layer.kind == "conv":  # OxHxWxI -> OxIxHxW
        return layer.kernel.transpose(0, 3, 1, 2)
    # depthwise 1xHxWxC -> Cx1xHxW; transposed OxHxWxI -> IxOxHxW
    return layer.kernel.transpose(3, 0, 1, 2)
