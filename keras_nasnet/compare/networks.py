"""Whole networks as comparison candidates: MnasNet-space block lists (MnasNet-A1, B1, small,
d1, MobileNetV2's topology, a `search --space mnasnet` result), built and trained as the MnasNet
search builds its children, and matched in parameters by the width multiplier.

A network is built by `MnasNetModel` through the search's `MnasNetHyperModel` (its head of 1280
filters, which the multiplier leaves as tensorflow/tpu's MnasNet does; no dropout), with the
small-image strides below 64 pixels and 28x28 images zero-padded to 32x32. `mobilenet_v2` is
MobileNetV2's topology in that builder: MobileNetV2 itself uses ReLU6, MnasNetModel ReLU.
Training is `training.train_model` with `compile_model`: the cells' recipe, only the model
differs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Optional

from ..training import (
    TrainingSettings,
    TrainResult,
    check_plain_recipe,
    compile_model,
    train_model,
)
from ..validation import check_int

SPACE = "mnasnet"
# The reference count of a network as the first candidate: at its own widths.
REFERENCE_MULTIPLIER = 1.0

# MobileNetV2's seven blocks in the block-string format: the MnasNet space's point at filter
# ratio 1.0, layers +0, mbconv6 (e1 first), kernel 3, no SE, skip.
MOBILENET_V2_BLOCKS = (
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r3_k3_s22_e6_i24_o32",
    "r4_k3_s22_e6_i32_o64",
    "r3_k3_s11_e6_i64_o96",
    "r3_k3_s22_e6_i96_o160",
    "r1_k3_s11_e6_i160_o320",
)


@dataclass(frozen=True)
class Network:
    """A whole network of the MnasNet space: its block strings and stem width.

    Raises:
        ValueError: a bad block list or stem width (as `mobile_blocks.parse_blocks` names it).
    """

    blocks: tuple
    stem_filters: int = 32

    def __post_init__(self):
        from ..mobile_blocks import format_blocks, parse_blocks

        # One spelling per network: it is a cache key and is compared with the saved files.
        object.__setattr__(self, "blocks", tuple(format_blocks(parse_blocks(self.blocks))))
        stem = check_int(self.stem_filters, "stem_filters", minimum=1)
        object.__setattr__(self, "stem_filters", stem)

    def to_dict(self) -> dict:
        """Returns the JSON-ready dict a comparison directory keeps of the network."""
        return {"space": SPACE, "point": list(self.blocks), "stem_filters": self.stem_filters}


def _zoo() -> dict:
    from ..applications import mnasnet as applications

    zoo = {"mobilenet_v2": Network(MOBILENET_V2_BLOCKS)}
    models = {"a1": applications.A1, "b1": applications.B1, "small": applications.SMALL}
    for name, spec in dict(models, d1=applications.D1).items():
        zoo[f"mnasnet-{name}"] = Network(tuple(spec["blocks"]), spec["stem_filters"])
    return zoo


NETWORKS = _zoo()


def network_file(path: str) -> Optional[Network]:
    """Returns the Network of a search's best_architecture.json with {"space": "mnasnet",
    "point": [block strings]}, or None when the file holds no "space" (a cell architecture).

    Raises:
        ValueError: an unreadable file, a space other than "mnasnet", or a bad block list.
    """
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read architecture file {path!r}: {error}.") from None
    if not isinstance(record, dict) or "space" not in record:
        return None
    if record["space"] != SPACE:
        raise ValueError(
            f"Architecture file {path!r} holds a point of the {record['space']!r} space; compare "
            f"takes NASNet cells and {SPACE!r} networks (a `search --space {SPACE}` result)."
        )
    try:
        return Network(record.get("point"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"Architecture file {path!r}: bad 'point': {error}") from None


def check_recipe(settings: TrainingSettings) -> None:
    """Raises ValueError when `settings` asks for what networks lack (an auxiliary head or
    drop-path); returns None otherwise."""
    check_plain_recipe(settings, "Networks")


def build_network(
    network: Network, input_shape, classes: int, multiplier: float, seed: Optional[int] = None
):
    """Returns the uncompiled Keras model of `network` at width `multiplier` for
    `input_shape` images, as the MnasNet search builds its children (small-image strides below
    64 pixels, images under 32x32 zero-padded).

    Raises:
        ValueError: a bad multiplier or a block list whose length is not the small-image
            strides' (7) on small images.
    """

    from ..mobile_blocks import format_blocks, parse_blocks
    from ..search.network_search import SMALL_IMAGE_SIDE, mnasnet_strides
    from ..search.spaces.mnasnet_blocks import MnasNetHyperModel, MnasNetSearchSpace

    blocks = parse_blocks(network.blocks)
    strides = mnasnet_strides(input_shape)
    if strides is not None:
        if len(blocks) != len(strides):
            raise ValueError(
                f"Network blocks {list(network.blocks)} have {len(blocks)} blocks; images "
                f"under {SMALL_IMAGE_SIDE} pixels need {len(strides)} (one per "
                "small-image stride)."
            )
        blocks = [dataclasses.replace(b, strides=(s, s)) for b, s in zip(blocks, strides)]
    hypermodel = MnasNetHyperModel(
        MnasNetSearchSpace(stem_filters=network.stem_filters),
        input_shape=tuple(input_shape),
        classes=classes,
        depth_multiplier=multiplier,
    )
    return hypermodel.padded_model(format_blocks(blocks), seed=seed)


def train_network(
    network: Network,
    dataset: str,
    multiplier: float,
    settings: TrainingSettings,
    data_dir: Optional[str] = None,
    seed: int = 0,
    evaluate_on: Optional[str] = "test",
) -> TrainResult:
    """Trains `network` at width `multiplier` with the cells' recipe (`training.train_model`,
    `compile_model`); returns its `TrainResult`.

    Raises:
        ValueError: a recipe with an auxiliary head or drop-path; as `training.train`.
    """
    check_recipe(settings)

    def compiled(input_shape, classes, steps_per_epoch):
        model = build_network(network, input_shape, classes, multiplier, seed=seed)
        compile_model(model, settings, total_steps=settings.epochs * steps_per_epoch)
        return model

    describe = {"network": network.to_dict(), "multiplier": multiplier}
    return train_model(
        compiled, dataset, settings, data_dir, seed=seed, evaluate_on=evaluate_on, describe=describe
    )


def train_candidate(**kwargs) -> TrainResult:
    """Returns the `TrainResult` of one comparison run: `train_network(**kwargs)` when the
    kwargs name a "network", else `training.train(**kwargs)` (the worker target of mixed
    comparisons)."""
    from .. import training

    if "network" in kwargs:
        return train_network(**kwargs)
    return training.train(**kwargs)
