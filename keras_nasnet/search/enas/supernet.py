"""The weight-sharing model of ENAS: one set of weights for every architecture of a space.

Every op of every (cell, block, operand) has one weight slice per possible input, stacked
(`shared_ops.SharedOperand`, ops written with `keras.ops`); the cell-level layers (the 1x1
projection of h, the adjustment of the older input, the factorized reductions) are small
functional models built by `cells.py`'s own functions, with the stand-alone model's layer
names. The architecture is an int32 vector of decision indices (a non-trainable variable, or a
tensor passed to `call`): `keras.ops.switch` (or, with `compute_all_ops`, an index into the
stacked outputs of every op) picks each operand's (input, op) inside the traced step, so one
traced training step and one traced evaluation step serve every architecture.

The macro structure is `NASNetModel`'s (stem, three stacks, reductions, "concat_unused"
cells): a cell's output is the concatenation of ALL its states, each multiplied by 0 or 1
(unused or not), so its width is fixed; a 1x1 conv over that masked concatenation equals the
stand-alone model's conv over the unused states alone, with the matching kernel rows. Where
the stand-alone builder's structure depends on the width (an older input is projected only
when its width differs from F), a switch picks the same path. `copy_to_standalone` copies the
shared weights of one architecture into the `NASNetModel` of that architecture, whose output
then equals the supernet's.
"""

from __future__ import annotations

from typing import Optional, Sequence

import keras
import numpy as np
from keras import layers, ops

from ...cells import adjust_previous, factorized_reduction
from ...genotypes import Architecture
from ...layers import NORMALIZED_COMBINES, combine_normalization
from ...nasnet import STEMS
from ...ops import LayerSettings, SeedSequence, batch_norm
from ...validation import check_bool, check_choice, check_int, check_number
from ..spaces.nasnet_cells import FIELDS, SearchSpace
from .shared_ops import SharedOperand, layer_weights, select_branch

# ENAS's micro space (Pham et al. 2018, section 2.3): five ops, B = 5, add.
ENAS_OPS = ("sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3", "identity")
SHAREABLE_COMBINES = ("add", *NORMALIZED_COMBINES)


def enas_space(num_blocks: int = 5) -> SearchSpace:
    """Returns ENAS's micro search space: `ENAS_OPS`, `num_blocks` blocks, add, two inputs."""
    return SearchSpace(ops=ENAS_OPS, num_blocks=num_blocks, combines=("add",))


def check_shareable(space: SearchSpace) -> SearchSpace:
    """Returns `space` if a supernet can share weights over it.

    Raises:
        TypeError: `space` is not a SearchSpace.
        ValueError: the space offers a concat combine, an output rule other than
            "concat_unused", or cells with more than two inputs; the message says why.
    """
    if not isinstance(space, SearchSpace):
        raise TypeError(f"`space` must be a SearchSpace; received {space!r}.")
    refused = [c for c in space.combines if c not in SHAREABLE_COMBINES]
    if refused:
        raise ValueError(
            f"The supernet cannot share weights over combines {refused}: a concat block is "
            "2F wide or F wide depending on the choice, so the weights of every op that reads "
            "it would need a shape per choice. Use combines from "
            f"{SHAREABLE_COMBINES} (e.g. keras_nasnet.search.enas.supernet.enas_space())."
        )
    if space.output != "concat_unused":
        raise ValueError(
            f"The supernet supports the 'concat_unused' output rule only; this space uses "
            f"{space.output!r}."
        )
    if space.num_inputs != 2:
        raise ValueError(
            f"The supernet supports cells with 2 inputs only; this space has {space.num_inputs}: "
            "with more, the stand-alone builder feeds the second cell an unprojected cell "
            "output, whose width depends on the architecture."
        )
    return space


class _Masked:
    """A state passed on between cells: a tensor whose channels are `widths` slots, each
    present (1) or zeroed (0) as `mask` says; `mask` None means every slot is present."""

    def __init__(self, tensor, widths: Sequence[int], mask=None, kind: Optional[str] = None):
        self.tensor = tensor
        self.widths = tuple(widths)
        self.mask = mask
        self.kind = kind  # "normal" or "reduction": the genotype that decides the slots

    @property
    def width(self) -> int:
        return sum(self.widths)


class _Shape:
    """A state's static shape while the supernet plans its layers."""

    def __init__(self, height, width, widths, kind=None):
        self.height, self.width, self.widths, self.kind = height, width, tuple(widths), kind

    @property
    def channels(self) -> int:
        return sum(self.widths)

    def input(self):
        return keras.Input(shape=(self.height, self.width, self.channels))


def _functional(inputs, outputs, name: str):
    return keras.Model(inputs, outputs, name=name)


class _SharedCell:
    """The layers of one cell position, for every architecture: built once, at planning."""

    def __init__(self, net: "Supernet", kind: str, block_id: str, inputs, halvings, filters):
        self.kind, self.block_id, self.filters = kind, block_id, filters
        self.reduction = kind == "reduction"
        ip, p = inputs[0], inputs[1] if len(inputs) > 1 else None
        self.input_widths = (ip.widths, p.widths if p is not None else None)
        self.input_kinds = (ip.kind, p.kind if p is not None else None)
        self.halving = halvings[1] if len(inputs) > 1 else 0
        self.p_is_raw = p is None
        # The layers are built in the stand-alone cell's order: their seeds follow it.
        x = self._build_projection(net, ip)
        states = [_Shape(ip.height, ip.width, (filters,)), self._build_older(net, ip, p, x)]
        self.state_shapes = list(states)
        stride_states = len(states) if self.reduction else 0
        if self.reduction:
            out = _Shape(-(-ip.height // 2), -(-ip.width // 2), (filters,))
        else:
            out = _Shape(ip.height, ip.width, (filters,))
        self.operands = self._build_operands(net, states, stride_states, out)
        self.norms = self._build_norms(net, out)
        self.reduce_inputs = self._build_reductions(net, states[:stride_states])
        self.output_widths = tuple(s.channels for s in states)
        self.output_shape = _Shape(out.height, out.width, self.output_widths, kind)

    def _own(self, net: "Supernet", layer):
        net.owned[layer.name] = layer
        return layer

    def _build_projection(self, net: "Supernet", ip: _Shape):
        """Builds h: ReLU -> 1x1 conv -> BN, as `cells.build_cell`; returns h's input."""
        kind, block_id, shared = self.kind, self.block_id, net.layer_settings
        x = ip.input()
        h = layers.Activation("relu")(x)
        h = layers.Conv2D(
            self.filters,
            (1, 1),
            padding="same",
            use_bias=False,
            name=f"{kind}_conv_1_{block_id}",
            kernel_initializer=shared.initializer("he_normal"),
        )(h)
        h = batch_norm(h, f"{kind}_bn_1_{block_id}", shared)
        self.project_h = self._own(net, _functional(x, h, f"{kind}_h_{block_id}"))
        return x

    def _build_older(self, net: "Supernet", ip: _Shape, p: Optional[_Shape], x) -> _Shape:
        """Builds the older input's factorized reduction, or its projection unless it is
        already F wide; returns the state's shape."""
        self.adjust = None
        self.collapse = False
        self.skip = False
        if p is None:
            return ip  # the first cell: h_{i-1} is the stem's output as it is
        y = p.input()
        if self.halving or p.channels != self.filters:
            adjusted = adjust_previous(
                y, x, self.filters, self.block_id, net.layer_settings, self.halving
            )
            self.adjust = self._own(
                net, _functional(y, adjusted, f"{self.kind}_adjust_{self.block_id}")
            )
        # A cell output's real width depends on the architecture; where it is F the
        # stand-alone cell takes it unprojected: a switch picks that path at run time.
        self.collapse = not self.halving and p.kind is not None
        return _Shape(ip.height, ip.width, (self.filters,))

    def _build_operands(self, net: "Supernet", states: list, stride_states: int, out: _Shape):
        """Builds the two `SharedOperand`s of every block, appending each block's output
        shape to `states`; returns them as [block][side]."""
        space, shared = net.space, net.layer_settings
        operands = []
        for b in range(space.num_blocks):
            specs = [
                (st.height, st.width, st.channels, 2 if j < stride_states else 1)
                for j, st in enumerate(states)
            ]
            sides = []
            for side in ("left", "right"):
                operand = SharedOperand(
                    space.ops,
                    specs,
                    self.filters,
                    shared.epsilon,
                    shared.seeds,
                    compute_all=net.settings["compute_all_ops"],
                    name=f"{self.kind}_{side}{b + 1}_{self.block_id}",
                )
                sides.append(self._own(net, operand))
            operands.append(sides)
            states.append(out)
        return operands

    def _build_norms(self, net: "Supernet", out: _Shape) -> dict:
        """Builds the normalization of every normalized combine; returns {(block, combine):
        layer}."""
        norms = {}
        for b in range(net.space.num_blocks):
            for combine in net.space.combines:
                if combine in NORMALIZED_COMBINES:
                    layer = combine_normalization(
                        combine,
                        self.filters,
                        f"{self.kind}_{NORMALIZED_COMBINES[combine]}_{b + 1}_{self.block_id}",
                        epsilon=net.layer_settings.epsilon,
                    )
                    layer.build((None, out.height, out.width, self.filters))
                    norms[(b, combine)] = self._own(net, layer)
        return norms

    def _build_reductions(self, net: "Supernet", inputs: list) -> list:
        """Builds the factorized reductions that halve a reduction cell's unused inputs
        before the concat; returns one model per input."""
        reductions = []
        for s, state in enumerate(inputs):
            t = state.input()
            y = factorized_reduction(
                t,
                state.channels,
                f"{self.block_id}_state_{s}",
                net.layer_settings,
                prefix=f"{self.kind}_reduce",
            )
            name = f"{self.kind}_reduce_{self.block_id}_state_{s}"
            reductions.append(self._own(net, _functional(t, y, name)))
        return reductions

    def call(self, net: "Supernet", inputs, arch, compute_all=None):
        """Returns the cell's `_Masked` output for inputs (newest first) under `arch`."""
        space = net.space
        ip = inputs[0]
        cell_offset = (1 if self.reduction else 0) * len(FIELDS) * space.num_blocks
        if compute_all is None:
            compute_all = net.settings["compute_all_ops"]
        h = self.project_h(ip.tensor)
        states = [h]
        if len(inputs) == 1:
            states.append(ip.tensor)
        else:
            states.append(self._older(inputs[1], compute_all))
        inputs_read = []
        for b in range(space.num_blocks):
            base = cell_offset + b * len(FIELDS)
            branches = []
            for side in range(2):
                in_index = ops.take(arch, base + side)
                inputs_read.append(in_index)
                operand = self.operands[b][side]
                branches.append(
                    operand(
                        states[: len(operand.inputs_spec)],
                        in_index,
                        ops.take(arch, base + 2 + side),
                        compute_all=compute_all,
                    )
                )
            y = branches[0] + branches[1]
            if len(space.combines) > 1 or space.combines[0] != "add":
                y = self._combine(y, ops.take(arch, base + 4), b, space.combines, compute_all)
            states.append(y)
        used = ops.stack(inputs_read)
        slots = []
        masks = []
        for s, state in enumerate(states):
            if s < len(self.reduce_inputs):
                state = self.reduce_inputs[s](state)
            present = ops.cast(ops.logical_not(ops.any(ops.equal(used, s))), state.dtype)
            masks.append(present)
            slots.append(state * present)
        return _Masked(
            ops.concatenate(slots, axis=-1), self.output_widths, ops.stack(masks), self.kind
        )

    def _older(self, p: _Masked, compute_all: bool):
        if self.adjust is None:
            return p.tensor
        if not self.collapse:
            return self.adjust(p.tensor)
        real_width = ops.sum(p.mask * ops.convert_to_tensor(p.widths, dtype=p.mask.dtype))

        def packed():
            # The present slots, packed side by side: a 0/1 matrix over channels.
            channel_mask = ops.concatenate(
                [ops.repeat(p.mask[s : s + 1], w) for s, w in enumerate(p.widths)]
            )
            target = ops.cast(ops.cumsum(channel_mask) - 1, "int32")
            select = ops.one_hot(target, self.filters) * channel_mask[:, None]
            return ops.matmul(p.tensor, ops.cast(select, p.tensor.dtype))

        def projected():
            return self.adjust(p.tensor)

        index = ops.cast(ops.not_equal(real_width, float(self.filters)), "int32")
        return select_branch(index, [packed, projected], compute_all)

    def _combine(self, y, combine_index, b, combines, compute_all: bool):
        def branch(combine):
            if combine == "add":
                return lambda: y
            return lambda: self.norms[(b, combine)](y)

        return select_branch(combine_index, [branch(c) for c in combines], compute_all)


class Supernet(keras.Model):
    """The shared-weights model over `space`: `NASNetModel`'s macro structure with a cifar or
    imagenet stem, whose cells take their architecture at run time.

    Args:
        space: a `SearchSpace` it can share weights over (`check_shareable`); default
            `enas_space()`.
        input_shape: (height, width, channels) of the images (static: the op layers need it).
        classes: outputs of the classifier (logits: no activation).
        filters: F, the filters per branch in the first stack (doubling at each reduction).
        num_cells: normal cells per stack, N (three stacks).
        stem: "cifar" (3x3 conv) or "imagenet" (strided conv + two reduction cells).
        stem_filters: the stem conv's filters; default 3 * F for "cifar", 96 for "imagenet".
        skip_reduction: as `NASNetModel`'s (the cell after a reduction skips its input).
        filter_multiplier: filters grow by this factor at each reduction.
        bn_momentum, bn_epsilon: of every BatchNormalization.
        seed: seed of the initializers.
        compute_all_ops: run every (input group, op) of an operand and keep the chosen one, as
            ENAS's code does, instead of one switch that runs only the chosen one (whose
            gradient, on TensorFlow, runs the chosen op again: `shared_ops.SharedOperand`):
            several times the arithmetic and memory traffic per training step, but the only
            way batch norm can be synchronized over replicas (see docs/benchmarks.md).

    Raises:
        ValueError: a space it cannot share weights over, or a bad setting.
    """

    def __init__(
        self,
        space: Optional[SearchSpace] = None,
        *,
        input_shape: Sequence[int] = (28, 28, 1),
        classes: int = 10,
        filters: int = 8,
        num_cells: int = 1,
        stem: str = "cifar",
        stem_filters: Optional[int] = None,
        skip_reduction: bool = False,
        filter_multiplier: int = 2,
        bn_momentum: float = 0.9,
        bn_epsilon: float = 1e-3,
        seed: Optional[int] = None,
        compute_all_ops: bool = False,
        name: str = "supernet",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.space = check_shareable(enas_space() if space is None else space)
        self.settings = _check_settings(
            dict(
                input_shape=input_shape,
                classes=classes,
                filters=filters,
                num_cells=num_cells,
                stem=stem,
                stem_filters=stem_filters,
                skip_reduction=skip_reduction,
                filter_multiplier=filter_multiplier,
                bn_momentum=bn_momentum,
                bn_epsilon=bn_epsilon,
                seed=seed,
                compute_all_ops=compute_all_ops,
            )
        )
        s = self.settings
        self.layer_settings = LayerSettings(bn_momentum, bn_epsilon, SeedSequence(seed))
        self.architecture = self.add_weight(
            shape=(len(self.space),),
            dtype="int32",
            initializer="zeros",
            trainable=False,
            name="architecture",
        )
        self.owned = {}
        self._plan(s)
        self.built = True  # every weight exists once planned

    def _plan(self, s: dict) -> None:
        shared = self.layer_settings
        height, width, channels = s["input_shape"]
        x = keras.Input(shape=(height, width, channels))
        if s["stem"] == "imagenet":
            y = layers.Conv2D(
                s["stem_filters"],
                (3, 3),
                strides=(2, 2),
                padding="valid",
                use_bias=False,
                name="stem_conv1",
                kernel_initializer=shared.initializer("he_normal"),
            )(x)
        else:
            y = layers.Conv2D(
                s["stem_filters"],
                (3, 3),
                padding="same",
                use_bias=False,
                name="stem_conv1",
                kernel_initializer=shared.initializer("he_normal"),
            )(x)
        y = batch_norm(y, "stem_bn1", shared)
        self.stem = _functional(x, y, "stem")
        stream = [(0, _Shape(y.shape[1], y.shape[2], (y.shape[3],)))]
        self.cells = []  # [(cell, reduction)]
        filters, multiplier, n = s["filters"], s["filter_multiplier"], s["num_cells"]

        def add(kind, cell_filters, block_id):
            recent = list(reversed(stream))[:2]
            shapes = [shape for _, shape in recent]
            halvings = [recent[0][0] - scale for scale, _ in recent]
            cell = _SharedCell(self, kind, block_id, shapes, halvings, cell_filters)
            scale = stream[-1][0] + (1 if kind == "reduction" else 0)
            self.cells.append(cell)
            stream.append((scale, cell.output_shape))

        if s["stem"] == "imagenet":
            add("reduction", filters // multiplier**2, "stem_1")
            add("reduction", filters // multiplier, "stem_2")
        for stack in range(3):
            stack_filters = filters * multiplier**stack
            if stack > 0:
                add("reduction", stack_filters, f"reduce_{stack * n}")
                if s["skip_reduction"]:
                    del stream[-2]
                    self.cells[-1].skip = True
            for i in range(n):
                add("normal", stack_filters, str(stack * n + i + (1 if stack > 0 else 0)))
        last = stream[-1][1]
        self.final_widths = last.widths
        self.final_kind = last.kind
        self.classifier = layers.Dense(
            s["classes"],
            name="predictions",
            kernel_initializer=shared.initializer("glorot_uniform"),
        )
        self.classifier.build((None, last.channels))
        self.owned["predictions"] = self.classifier

    def call(self, images, architecture=None, training=None, compute_all_ops=None):
        """Returns the logits of `images` under `architecture` (int decision indices; default
        the `architecture` variable). BN uses batch statistics when `training`;
        `compute_all_ops` None is the constructor's setting."""
        arch = self.architecture if architecture is None else architecture
        arch = ops.cast(ops.convert_to_tensor(arch), "int32")
        stream = [(0, _Masked(self.stem(images, training=training), (self.stem.output.shape[-1],)))]
        for cell in self.cells:
            recent = list(reversed(stream))[:2]
            inputs = [state for _, state in recent]
            out = cell.call(self, inputs, arch, compute_all_ops)
            scale = stream[-1][0] + (1 if cell.reduction else 0)
            stream.append((scale, out))
            if cell.skip:
                del stream[-2]
        x = ops.relu(stream[-1][1].tensor)
        x = ops.mean(x, axis=(1, 2))
        return self.classifier(x)

    def set_architecture(self, indices) -> None:
        """Assigns the decision indices the next steps use (no retrace).

        Raises:
            ValueError: the wrong number of indices or one out of range for its decision.
        """
        self.space.decode(indices)  # validates
        self.architecture.assign(np.asarray(indices, dtype="int32"))

    def get_config(self) -> dict:
        """Returns the space and settings (JSON-ready)."""
        return {"space": self.space.get_config(), **self.settings, "name": self.name}

    @classmethod
    def from_config(cls, config):
        """Returns a new Supernet with the space and settings of `config`."""
        config = dict(config)
        config["space"] = SearchSpace.from_config(config["space"])
        return cls(**config)

    def standalone(self, architecture: Architecture, **kwargs):
        """Returns the `NASNetModel` of `architecture` with this supernet's macro settings
        (logits output, fresh weights; `copy_to_standalone` fills them)."""
        from ...nasnet import NASNetModel

        s = self.settings
        return NASNetModel(
            architecture,
            filters=s["filters"],
            num_blocks=s["num_cells"],
            stem=s["stem"],
            stem_filters=s["stem_filters"],
            skip_reduction=s["skip_reduction"],
            filter_multiplier=s["filter_multiplier"],
            input_shape=tuple(s["input_shape"]),
            classes=s["classes"],
            classifier_activation=None,
            bn_momentum=s["bn_momentum"],
            bn_epsilon=s["bn_epsilon"],
            **kwargs,
        )


def _check_settings(s: dict) -> dict:
    shape = s["input_shape"]
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise ValueError(f"`input_shape` must be (height, width, channels); received {shape!r}.")
    s["input_shape"] = tuple(check_int(v, "input_shape", minimum=1) for v in shape)
    if min(s["input_shape"][:2]) < 8:
        raise ValueError(f"`input_shape` must be at least 8x8; received {shape!r}.")
    for argument in ("classes", "filters", "num_cells", "filter_multiplier"):
        s[argument] = check_int(s[argument], argument, minimum=1)
    check_choice(s["stem"], "stem", STEMS)
    if s["stem_filters"] is None:
        s["stem_filters"] = 96 if s["stem"] == "imagenet" else 3 * s["filters"]
    s["stem_filters"] = check_int(s["stem_filters"], "stem_filters", minimum=1)
    s["skip_reduction"] = check_bool(s["skip_reduction"], "skip_reduction")
    s["bn_momentum"] = check_number(s["bn_momentum"], "bn_momentum", minimum=0, maximum=1)
    s["bn_epsilon"] = check_number(s["bn_epsilon"], "bn_epsilon", minimum=0, min_inclusive=False)
    s["seed"] = check_int(s["seed"], "seed", allow_none=True)
    s["compute_all_ops"] = check_bool(s["compute_all_ops"], "compute_all_ops")
    if s["stem"] == "imagenet" and s["filters"] % s["filter_multiplier"] ** 2:
        raise ValueError(
            f"With the imagenet stem `filters` must be a multiple of filter_multiplier**2 "
            f"({s['filter_multiplier'] ** 2}); received {s['filters']}."
        )
    return s


def _slot_rows(widths: Sequence[int], states: Sequence[int]) -> np.ndarray:
    bounds = np.cumsum((0, *widths))
    return np.concatenate([np.arange(bounds[s], bounds[s + 1]) for s in states])


def _layer_weights(model, masked_widths, rows, into: dict) -> None:
    """Adds {layer name: weights} of functional `model` to `into`; kernels that read the
    masked input (of `masked_widths` total channels) keep only `rows`."""
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if (
            rows is not None
            and isinstance(layer, (layers.Conv2D, layers.Dense))
            and weights[0].shape[-2] == sum(masked_widths)
        ):
            weights[0] = np.take(weights[0], rows, axis=-2)
        into[layer.name] = weights


def shared_weights_of(supernet: Supernet, indices: Sequence[int]) -> dict:
    """Returns {stand-alone layer name: weights} that architecture `indices` uses in `supernet`,
    shaped as the stand-alone `NASNetModel` of that architecture holds them.

    Raises:
        ValueError: `indices` is not an architecture of the supernet's space.
    """
    space = supernet.space
    architecture = space.decode(indices)
    indices = space.encode(architecture)
    weights: dict = {}

    def rows_for(widths, kind):
        if kind is None:
            return None
        return _slot_rows(widths, getattr(architecture, kind).output_states())

    _layer_weights(supernet.stem, (), None, weights)
    per_cell = len(FIELDS) * space.num_blocks
    for cell in supernet.cells:
        offset = per_cell if cell.reduction else 0
        genotype = getattr(architecture, cell.kind)
        (h_widths, p_widths), (h_kind, p_kind) = cell.input_widths, cell.input_kinds
        _layer_weights(cell.project_h, h_widths, rows_for(h_widths, h_kind), weights)
        if cell.adjust is not None:
            _layer_weights(cell.adjust, p_widths, rows_for(p_widths, p_kind), weights)
        for b in range(space.num_blocks):
            base = offset + b * len(FIELDS)
            for side in range(2):
                j, op = indices[base + side], space.ops[indices[base + 2 + side]]
                operand = cell.operands[b][side]
                weights.update(layer_weights(op, operand.name, operand.slice_of(j, op)))
            combine = space.combines[indices[base + 4]]
            if (b, combine) in cell.norms:
                layer = cell.norms[(b, combine)]
                weights[layer.name] = layer.get_weights()
        for s, model in enumerate(cell.reduce_inputs):
            if s in genotype.output_states():
                _layer_weights(model, (), None, weights)
    rows = rows_for(supernet.final_widths, supernet.final_kind)
    kernel, bias = supernet.classifier.get_weights()
    weights["predictions"] = [np.take(kernel, rows, axis=0), bias]
    return weights


def copy_to_standalone(supernet: Supernet, model, indices: Sequence[int]) -> None:
    """Copies the weights architecture `indices` uses in `supernet` into `model`, the
    stand-alone model of that architecture (`supernet.standalone(...)`).

    Raises:
        ValueError: `model` has a layer with weights the supernet does not provide, or of
            another shape (it is not the stand-alone model of that architecture).
    """
    weights = shared_weights_of(supernet, indices)
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            raise ValueError(
                f"Layer {layer.name!r} of {model.name!r} has no counterpart in the supernet for "
                "this architecture: is it the stand-alone model of the same architecture and "
                "settings?"
            )
        expected = [tuple(w.shape) for w in layer.weights]
        given = [tuple(w.shape) for w in weights[layer.name]]
        if expected != given:
            raise ValueError(
                f"Layer {layer.name!r}: the supernet's weights have shapes {given}, the model's "
                f"{expected}."
            )
        layer.set_weights(weights[layer.name])
