"""Where a `.tflite` file's time goes: time per op type, and which ops XNNPACK takes.

LiteRT's op profiler is not reachable from its Python package (ai-edge-litert 2.3.0 exposes no
profiler on its Interpreter or CompiledModel), so each op is cut out of the file into a model of
its own (its constant inputs kept, its other inputs made model inputs) and timed alone with the
same interpreter and thread count. An op XNNPACK takes runs as a DELEGATE node in that model; one
it leaves runs on the builtin kernels. The sum of the ops' times is close to, and usually a bit
above, the whole model's time (each op alone starts with cold caches and pays one dispatch).
"""

from __future__ import annotations

import collections
import copy
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .export import (
    check_latency_arguments,
    interpreter,
    interpreter_from_bytes,
    invocation_times_ms,
)


@dataclass(frozen=True)
class OpTime:
    """One op of the file: its index, type, shapes, whether XNNPACK takes it, its median time."""

    index: int
    op_type: str
    input_shape: tuple
    weight_shape: Optional[tuple]
    output_shape: tuple
    xnnpack: bool
    median_ms: float


@dataclass(frozen=True)
class OpTypeTime:
    """All ops of one type: how many, how many XNNPACK takes, their summed median time."""

    op_type: str
    count: int
    xnnpack: int
    total_ms: float


@dataclass(frozen=True)
class Profile:
    """The per-op profile of a `.tflite` file (see `profile`)."""

    path: str
    threads: int
    model_ms: float  # median time of the whole model
    partitions: int  # XNNPACK partitions of the whole model (1: XNNPACK runs all it takes at once)
    ops: tuple  # OpTime, in the file's order

    def by_type(self) -> list:
        """Returns an OpTypeTime per op type, slowest first."""
        groups = collections.defaultdict(list)
        for op in self.ops:
            groups[op.op_type].append(op)
        rows = [
            OpTypeTime(
                name, len(ops), sum(op.xnnpack for op in ops), sum(op.median_ms for op in ops)
            )
            for name, ops in groups.items()
        ]
        return sorted(rows, key=lambda row: -row.total_ms)

    def table(self, top: int = 10) -> str:
        """Returns the profile as text: op types (slowest first), then the `top` slowest ops."""
        total = sum(op.median_ms for op in self.ops)
        builtin = sum(not op.xnnpack for op in self.ops)
        lines = [
            f"{self.path}: whole model {self.model_ms:.3f} ms median ({self.threads} thread(s)), "
            f"{len(self.ops)} ops, {self.partitions} XNNPACK partition(s), {builtin} op(s) on "
            "builtin kernels",
            f"{'op type':<24} {'count':>6} {'xnnpack':>8} {'ms':>9} {'share':>7}",
        ]
        for row in self.by_type():
            share = row.total_ms / total if total else 0.0
            lines.append(
                f"{row.op_type:<24} {row.count:>6} {row.xnnpack:>8} {row.total_ms:>9.3f} "
                f"{share:>6.1%}"
            )
        lines.append(
            f"{'sum of ops':<24} {len(self.ops):>6} {len(self.ops) - builtin:>8} {total:>9.3f}"
        )
        if top > 0:
            lines.append(f"slowest {min(top, len(self.ops))} ops (input -> output, weights):")
            for op in sorted(self.ops, key=lambda op: -op.median_ms)[:top]:
                weights = "" if op.weight_shape is None else f", weights {list(op.weight_shape)}"
                where = "xnnpack" if op.xnnpack else "builtin"
                lines.append(
                    f"  #{op.index:<5} {op.op_type:<20} {op.median_ms:>8.3f} ms  {where}  "
                    f"{list(op.input_shape)} -> {list(op.output_shape)}{weights}"
                )
        return "\n".join(lines)


def _schema():
    """Returns (schema module, flatbuffer_utils module) of ai_edge_litert, else of tf.lite."""
    try:
        from ai_edge_litert import schema_py_generated as schema
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError:
        from tensorflow.lite.python import schema_py_generated as schema
        from tensorflow.lite.tools import flatbuffer_utils
    return schema, flatbuffer_utils


def _single_op_model(schema, utils, model, subgraph, op) -> bytes:
    """Returns a flatbuffer model that runs `op` alone: its constant inputs keep their buffers,
    its other inputs become the model's inputs."""
    single = schema.ModelT()
    single.version, single.operatorCodes = model.version, model.operatorCodes
    index, tensors, buffers, inputs = {}, [], [schema.BufferT()], []
    for position, tensor in enumerate(list(op.inputs) + list(op.outputs)):
        if tensor < 0 or tensor in index:
            continue
        source = subgraph.tensors[tensor]
        copied = copy.copy(source)
        data = model.buffers[source.buffer].data if source.buffer else None
        if data is not None and len(data):
            buffers.append(model.buffers[source.buffer])
            copied.buffer = len(buffers) - 1
        else:
            copied.buffer = 0
            if position < len(op.inputs):
                inputs.append(len(tensors))
        index[tensor] = len(tensors)
        tensors.append(copied)
    cut = copy.copy(op)
    cut.inputs = [index.get(t, -1) for t in op.inputs]
    cut.outputs = [index[t] for t in op.outputs]
    graph = schema.SubGraphT()
    graph.tensors, graph.operators = tensors, [cut]
    graph.inputs, graph.outputs = inputs, list(cut.outputs)
    single.subgraphs, single.buffers = [graph], buffers
    return bytes(utils.convert_object_to_bytearray(single))


def _median_ms(runner, runs: int, warmup: int) -> float:
    for detail in runner.get_input_details():
        runner.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    return float(np.median(invocation_times_ms(runner.invoke, runs, warmup)))


def _shape(subgraph, tensor: int) -> tuple:
    return () if tensor < 0 else tuple(int(d) for d in subgraph.tensors[tensor].shape)


def profile(path: str, threads: int = 1, runs: int = 20, warmup: int = 3) -> Profile:
    """Returns the per-op `Profile` of the `.tflite` at `path` (its first subgraph): every op timed
    alone (median of `runs` after `warmup`), whether XNNPACK takes it, and the whole model's time.

    Raises:
        FileNotFoundError: no such file.
        ValueError: `threads`, `runs` or `warmup` out of range.
    """
    check_latency_arguments(threads, runs, warmup)
    whole = interpreter(path, threads)  # raises FileNotFoundError
    partitions = sum(op["op_name"] == "DELEGATE" for op in whole._get_ops_details())
    model_ms = _median_ms(whole, runs, warmup)
    schema, utils = _schema()
    model = utils.read_model(path)
    subgraph = model.subgraphs[0]
    ops = []
    for i, op in enumerate(subgraph.operators):
        runner = interpreter_from_bytes(
            _single_op_model(schema, utils, model, subgraph, op), threads
        )
        xnnpack = any(detail["op_name"] == "DELEGATE" for detail in runner._get_ops_details())
        weights = _shape(subgraph, op.inputs[1]) if len(op.inputs) > 1 else ()
        ops.append(
            OpTime(
                index=i,
                op_type=utils.opcode_to_name(model, op.opcodeIndex),
                input_shape=_shape(subgraph, op.inputs[0]) if len(op.inputs) else (),
                weight_shape=weights if weights and subgraph.tensors[op.inputs[1]].buffer else None,
                output_shape=_shape(subgraph, op.outputs[0]),
                xnnpack=xnnpack,
                median_ms=_median_ms(runner, runs, warmup),
            )
        )
    return Profile(
        path=str(path), threads=threads, model_ms=model_ms, partitions=partitions, ops=tuple(ops)
    )
