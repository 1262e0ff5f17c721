"""Read MediaPipe's face and person detector ``.tflite`` files into state dicts.

Both graphs are plain convolution stacks. Every CONV_2D / DEPTHWISE_CONV_2D is taken in the
order the graph runs it and mapped onto the network's ``tflite_layers()`` list (see
:mod:`..detector_net`), checking kernel shape, stride and fused activation. Weights are fp16
constants behind ``DEQUANTIZE`` ops; the person detector also stores most 1x1 kernels
sparse (a ``DENSIFY`` op: dense outer dimensions, the input channels as CSR rows), which
:func:`densify` expands. Anything else is refused rather than converted wrongly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import WeightsError
from .tflite_convert import TfliteLayer

_OP_CONV_2D = 3
_OP_DEPTHWISE_CONV_2D = 4
_OP_DEQUANTIZE = 6
_OP_DENSIFY = 124
_TYPE_FLOAT32 = 0
_TYPE_FLOAT16 = 1
_FORMAT_DENSE = 0
_INDEX_VECTORS = {1: ("Int32Vector", np.int32), 2: ("Uint16Vector", np.uint16)}
_INDEX_VECTORS[3] = ("Uint8Vector", np.uint8)


def read_detector_layers(data: bytes) -> list[tuple[TfliteLayer, int]]:
    """The graph's convolutions in execution order, each with its fused activation code."""
    import tflite  # only needed when converting

    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    producer = {
        int(out): k
        for k in range(graph.OperatorsLength())
        for out in graph.Operators(k).OutputsAsNumpy()
    }
    reader = _Reader(tflite, model, graph, producer)
    layers = []
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        if reader.code(op) in (_OP_CONV_2D, _OP_DEPTHWISE_CONV_2D):
            layers.append(reader.convolution(op))
    return layers


class _Reader:
    def __init__(self, tflite: Any, model: Any, graph: Any, producer: dict[int, int]) -> None:
        self.tflite, self.model, self.graph, self.producer = tflite, model, graph, producer

    def code(self, op: Any) -> int:
        entry = self.model.OperatorCodes(op.OpcodeIndex())
        return max(entry.BuiltinCode(), entry.DeprecatedBuiltinCode())

    def constant(self, index: int) -> np.ndarray:
        """A weight tensor as float32: follows DEQUANTIZE and DENSIFY back to the buffer."""
        k = self.producer.get(index)
        if k is not None:
            op = self.graph.Operators(k)
            if self.code(op) not in (_OP_DEQUANTIZE, _OP_DENSIFY):
                raise WeightsError(f"weight tensor {index} is computed, not a constant")
            return self.constant(int(op.Inputs(0)))
        tensor = self.graph.Tensors(index)
        raw = self.model.Buffers(tensor.Buffer()).DataAsNumpy()
        dtype = {_TYPE_FLOAT16: np.float16, _TYPE_FLOAT32: np.float32}.get(tensor.Type())
        if dtype is None or isinstance(raw, int):
            raise WeightsError(f"unexpected constant tensor {tensor.Name().decode()!r}")
        values = raw.view(dtype).astype(np.float32)
        shape = tuple(int(s) for s in tensor.ShapeAsNumpy())
        sparsity = tensor.Sparsity()
        if sparsity is None:
            return values.reshape(shape)
        return densify(values, shape, self._csr(sparsity, len(shape)))

    def _csr(self, sparsity: Any, rank: int) -> tuple[np.ndarray, np.ndarray]:
        order = sparsity.TraversalOrderAsNumpy()
        if sparsity.BlockMapLength() or list(order) != list(range(rank)):
            raise WeightsError("only unblocked sparse tensors in natural order are supported")
        dims = [sparsity.DimMetadata(d) for d in range(sparsity.DimMetadataLength())]
        if any(d.Format() != _FORMAT_DENSE for d in dims[:-1]) or dims[-1].Format() == 0:
            raise WeightsError("only a sparse innermost dimension is supported")
        last = dims[-1]
        return (
            self._index_vector(last.ArraySegmentsType(), last.ArraySegments()),
            self._index_vector(last.ArrayIndicesType(), last.ArrayIndices()),
        )

    def _index_vector(self, kind: int, table: Any) -> np.ndarray:
        if kind not in _INDEX_VECTORS:
            raise WeightsError(f"unsupported sparse index type {kind}")
        name, dtype = _INDEX_VECTORS[kind]
        vector = getattr(self.tflite, name)()
        vector.Init(table.Bytes, table.Pos)
        return np.asarray(vector.ValuesAsNumpy(), dtype=dtype).astype(np.int64)

    def convolution(self, op: Any) -> tuple[TfliteLayer, int]:
        conv = self.code(op) == _OP_CONV_2D
        opts = self.tflite.Conv2DOptions() if conv else self.tflite.DepthwiseConv2DOptions()
        options = op.BuiltinOptions()
        opts.Init(options.Bytes, options.Pos)
        if conv and (opts.DilationHFactor(), opts.DilationWFactor()) != (1, 1):
            raise WeightsError("dilated convolutions are not supported")
        if not conv and opts.DepthMultiplier() != 1:
            raise WeightsError("depth multiplier must be 1")
        name = self.graph.Tensors(int(op.Outputs(0))).Name().decode()
        layer = TfliteLayer(
            name=name,
            kind="conv" if conv else "depthwise",
            kernel=self.constant(int(op.Inputs(1))),
            bias=self.constant(int(op.Inputs(2))),
            stride=(opts.StrideH(), opts.StrideW()),
            same_padding=opts.Padding() == 0,
        )
        return layer, int(opts.FusedActivationFunction())


def densify(values: np.ndarray, shape: tuple[int, ...], csr: tuple[np.ndarray, np.ndarray]):
    """Expand a tensor whose outer dimensions are dense and whose innermost one is CSR:
    row ``r`` (over the outer dimensions, row-major) holds ``values[seg[r]:seg[r+1]]`` at
    columns ``idx[seg[r]:seg[r+1]]``."""
    segments, indices = csr
    rows = int(np.prod(shape[:-1]))
    if len(segments) != rows + 1 or segments[-1] != len(values) or len(indices) != len(values):
        raise WeightsError("sparse tensor: segments and indices do not fit its values")
    if len(indices) and indices.max() >= shape[-1]:
        raise WeightsError("sparse tensor: column index out of range")
    dense = np.zeros((rows, shape[-1]), np.float32)
    row_of = np.repeat(np.arange(rows), np.diff(segments))
    dense[row_of, indices] = values
    return dense.reshape(shape)


def detector_state_dict(data: bytes, model: nn.Module) -> dict[str, torch.Tensor]:
    """Map the graph's convolutions onto ``model.tflite_layers()``, checking each one."""
    graph_layers = read_detector_layers(data)
    targets = model.tflite_layers()
    if len(graph_layers) != len(targets):
        raise WeightsError(f"graph has {len(graph_layers)} convolutions, network {len(targets)}")
    paths = {module: path for path, module in model.named_modules()}
    state: dict[str, torch.Tensor] = {}
    for (layer, activation), (module, wanted) in zip(graph_layers, targets, strict=True):
        path = paths[module]
        if layer.kind == "conv":  # OxHxWxI -> OxIxHxW
            kernel = layer.kernel.transpose(0, 3, 1, 2)
        else:  # depthwise 1xHxWxC -> Cx1xHxW
            kernel = layer.kernel.transpose(3, 0, 1, 2)
        if tuple(kernel.shape) != tuple(module.weight.shape):
            raise WeightsError(f"{layer.name} -> {path}: shape {kernel.shape}")
        if layer.stride != tuple(module.stride) or activation != wanted:
            raise WeightsError(f"{layer.name} -> {path}: stride or activation differs")
        state[f"{path}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel))
        state[f"{path}.bias"] = torch.from_numpy(layer.bias.copy())
    return state
