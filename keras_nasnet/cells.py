"""Builds one cell (normal or reduction) of a network from its `Genotype`.

The layers a cell creates, their order and their names are those of keras.applications'
NASNet-A cells (``normal_left1_0``, ``adjust_bn_stem_2``, ...), so a NASNet-A built from
the `NASNET_A` genotype loads the official Keras weight files unchanged, and any other
genotype gets names of the same, readable pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from keras import layers

from .genotypes import NASNET_A, Genotype
from .layers import NORMALIZED_COMBINES, ScheduledDropPath, combine_normalization
from .ops import LayerSettings, apply_op, batch_norm, zero_pad


@dataclass(frozen=True)
class DropPathSchedule:
    """ScheduledDropPath settings shared by every cell of one network."""

    keep_prob: float
    total_num_cells: int
    total_training_steps: int


@dataclass(frozen=True)
class CellSettings:
    """What every cell of one network shares: the layers' settings (BN, seeds) and the
    drop-path schedule. Each drop-path layer takes the next seed of `shared.seeds`, so their
    masks are independent."""

    shared: LayerSettings
    drop_path: Optional[DropPathSchedule] = None


# keras.applications names a few NASNet-A reduction-cell layers off-pattern; its weight files
# and users' `get_layer` calls rely on those names, so the NASNet-A reduction cell keeps them.
_KERAS_REDUCTION_NAMES = {
    "reduction_right4": "reduction_left4",
    "reduction_left5": "reduction_left4",
    "reduction_add_3": "reduction_add3",
    "reduction_add_5": "reduction_add4",
}


def output_channel_units(genotype: Genotype) -> int:
    """Returns the cell's output channels in units of its filter count F.

    Every input state and every add-block has F channels; a concat-block has 2F. For an
    "all_states" cell this is the width of its passed-on states concatenated.
    """
    units = 0
    for state in genotype.output_states():
        block = state - genotype.num_inputs
        units += 2 if block >= 0 and genotype.blocks[block].combine == "concat" else 1
    return units


def factorized_reduction(
    x, filters: int, block_id: str, shared: LayerSettings, prefix: str = "adjust"
):
    """Halves the spatial size of `x` without losing pixels: two offset 1x1 paths, concatenated.

    Layer for layer keras.applications' reduction branch of `_adjust_block`. The two halves
    sum to exactly `filters` channels also when `filters` is odd.
    """
    x = layers.Activation("relu", name=f"{prefix}_relu_1_{block_id}")(x)
    p1 = layers.AveragePooling2D(
        (1, 1), strides=(2, 2), padding="valid", name=f"{prefix}_avg_pool_1_{block_id}"
    )(x)
    p1 = layers.Conv2D(
        filters // 2,
        (1, 1),
        padding="same",
        use_bias=False,
        name=f"{prefix}_conv_1_{block_id}",
        kernel_initializer=shared.initializer("he_normal"),
    )(p1)
    p2 = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(x)
    p2 = layers.Cropping2D(cropping=((1, 0), (1, 0)))(p2)
    p2 = layers.AveragePooling2D(
        (1, 1), strides=(2, 2), padding="valid", name=f"{prefix}_avg_pool_2_{block_id}"
    )(p2)
    p2 = layers.Conv2D(
        filters - filters // 2,
        (1, 1),
        padding="same",
        use_bias=False,
        name=f"{prefix}_conv_2_{block_id}",
        kernel_initializer=shared.initializer("he_normal"),
    )(p2)
    x = layers.concatenate([p1, p2], axis=-1)
    return batch_norm(x, f"{prefix}_bn_{block_id}", shared)


def adjust_previous(p, ip, filters: int, block_id: str, shared: LayerSettings, halvings: int):
    """Reshapes the older input `p` to the spatial size of `ip` and to `filters` channels.

    keras.applications' `_adjust_block`: factorized reduction when `p` is spatially larger
    (once per halving, `halvings` being how many reductions lie between `p` and `ip`), ReLU ->
    1x1 conv -> BN when only the channels differ, nothing otherwise. A missing `p` (the first
    cell) becomes `ip` itself. The halvings come from the network's structure, not from
    comparing shapes: with an unknown input size both shapes are None, and
    keras.applications then wires NASNetLarge(include_top=False) wrongly.
    """
    if p is None:
        return ip
    if halvings:
        for step in range(halvings):
            p = factorized_reduction(
                p, filters, block_id if step == 0 else f"{block_id}_{step}", shared
            )
        return p
    if p.shape[-1] != filters:
        p = layers.Activation("relu")(p)
        p = layers.Conv2D(
            filters,
            (1, 1),
            strides=(1, 1),
            padding="same",
            use_bias=False,
            name=f"adjust_conv_projection_{block_id}",
            kernel_initializer=shared.initializer("he_normal"),
        )(p)
        p = batch_norm(p, f"adjust_bn_{block_id}", shared)
    return p


class _Namer:
    """Layer names of one cell, keras.applications-style."""

    def __init__(self, kind: str, block_id: str, keras_quirks: bool):
        self.kind = kind
        self.block_id = block_id
        self.renames = _KERAS_REDUCTION_NAMES if keras_quirks else {}

    def __call__(self, stem: str) -> str:
        stem = f"{self.kind}_{stem}"
        return f"{self.renames.get(stem, stem)}_{self.block_id}"


def build_cell(
    genotype: Genotype,
    inputs: Sequence,
    *,
    filters: int,
    reduction: bool,
    block_id: str,
    cell_index: int,
    settings: CellSettings,
    halvings: Sequence[int],
):
    """Builds one cell and returns its output: one tensor, or for an "all_states" cell the
    list of its block outputs in block order.

    Args:
        genotype: the cell.
        inputs: the states passed on by earlier layers, most recent first: ``inputs[0]`` is
            h_i, ``inputs[1]`` h_{i-1}, ... At most `genotype.num_inputs`, at least one; when
            fewer exist (the first cells of a network) the missing ones are ``inputs[0]`` as
            it is, unadjusted (TF-slim and keras.applications: a missing h_{i-1} is h_i).
        halvings: for each input, how many reductions lie between it and ``inputs[0]``
            (0 for ``inputs[0]``); that many factorized reductions bring it to h_i's size.
        filters: F, the channels of every op in the cell.
        reduction: whether ops on the cell's inputs have stride 2.
        block_id: the suffix of every layer name ("0", "reduce_4", "stem_1", ...).
        cell_index: the cell's position in the network (stem cells included), for drop path.
        settings: the layer settings (BN, seeds) and drop-path schedule shared by the network.
    """
    kind = "reduction" if reduction else "normal"
    name = _Namer(kind, block_id, keras_quirks=reduction and genotype == NASNET_A.reduction)
    shared = settings.shared
    ip = inputs[0]

    # Older inputs are adjusted before h is projected: keras.applications' layer order.
    older = [
        adjust_previous(p, ip, filters, _input_id(block_id, j), shared, halvings[j])
        for j, p in enumerate(inputs[1 : genotype.num_inputs], start=1)
    ]
    older += [ip] * (genotype.num_inputs - 1 - len(older))
    h = layers.Activation("relu")(ip)
    h = layers.Conv2D(
        filters,
        (1, 1),
        strides=(1, 1),
        padding="same",
        use_bias=False,
        name=name("conv_1"),
        kernel_initializer=shared.initializer("he_normal"),
    )(h)
    h = batch_norm(h, name("bn_1"), shared)
    states = [h, *older]

    padded = {}

    def shared_pad(state: int):
        # Strided pools on the same input read one zero-padded copy of it, as in keras.applications.
        def pad(x, kernel):
            key = (state, kernel)
            if key not in padded:
                pad_name = (
                    name("pad_1") if key == (0, 3) else name(f"pad_{state}_{kernel}x{kernel}")
                )
                padded[key] = zero_pad(x, (kernel, kernel), (2, 2), name=pad_name)
            return padded[key]

        return pad

    for b, block in enumerate(genotype.blocks):
        branches = []
        for side, state, op in zip(("left", "right"), block.inputs, block.ops):
            strides = 2 if reduction and state < genotype.num_inputs else 1
            op_name = name(f"{side}{b + 1}")
            y = apply_op(
                op,
                states[state],
                filters=filters,
                strides=strides,
                name=op_name,
                shared=shared,
                pad=shared_pad(state),
            )
            if settings.drop_path is not None and op != "identity":
                # keras' names can repeat across ops (see _KERAS_REDUCTION_NAMES); these must not.
                y = _drop_path(y, f"{kind}_{side}{b + 1}_{block_id}", cell_index, settings)
            branches.append(y)
        states.append(_combine(block.combine, branches, name, b, shared))

    if genotype.passes_all_states:
        return [states[state] for state in genotype.output_states()]
    outputs = []
    for state in genotype.output_states():
        x = states[state]
        if reduction and state < genotype.num_inputs:
            x = factorized_reduction(
                x, x.shape[-1], f"{block_id}_state_{state}", shared, prefix=f"{kind}_reduce"
            )
        outputs.append(x)
    if len(outputs) == 1:
        return outputs[0]
    return layers.Concatenate(axis=-1, name=f"{kind}_concat_{block_id}")(outputs)


def _input_id(block_id: str, state: int) -> str:
    # Input 1 keeps keras.applications' names (adjust_bn_3); further inputs are told apart.
    return block_id if state == 1 else f"{block_id}_input_{state}"


def _combine(combine: str, branches, name: _Namer, b: int, shared: LayerSettings):
    if combine == "concat":
        return layers.Concatenate(axis=-1, name=name(f"concat_{b + 1}"))(branches)
    x = layers.Add(name=name(f"add_{b + 1}"))(branches)
    if combine in NORMALIZED_COMBINES:
        norm = combine_normalization(
            combine,
            x.shape[-1],
            name(f"{NORMALIZED_COMBINES[combine]}_{b + 1}"),
            epsilon=shared.epsilon,
        )
        x = norm(x)
    return x


def _drop_path(x, op_name: str, cell_index: int, settings: CellSettings):
    schedule = settings.drop_path
    return ScheduledDropPath(
        schedule.keep_prob,
        cell_index=cell_index,
        total_num_cells=schedule.total_num_cells,
        total_training_steps=schedule.total_training_steps,
        seed=settings.shared.seeds.next(),
        name=f"drop_path_{op_name}",
    )(x)
