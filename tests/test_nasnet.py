"""The generic builder: any architecture, drop path, auxiliary head, saving, errors."""

import random

import keras
import numpy as np
import pytest

import keras_nasnet
from keras_nasnet import NASNET_A, NASNet, ScheduledDropPath
from keras_nasnet.applications.zoo import ZOO
from keras_nasnet.genotypes import COMBINES, OPS, Architecture, Block, Genotype

from .helpers import weighted_layer_signature


def random_genotype(rng, num_blocks=5, num_inputs=2, output="concat_unused"):
    blocks = []
    for b in range(num_blocks):
        blocks.append(
            Block(
                (rng.randrange(num_inputs + b), rng.randrange(num_inputs + b)),
                (rng.choice(OPS), rng.choice(OPS)),
                rng.choice(COMBINES),
            )
        )
    return Genotype(tuple(blocks), num_inputs=num_inputs, output=output)


def random_architecture(seed, **kwargs):
    rng = random.Random(seed)
    return Architecture(random_genotype(rng, **kwargs), random_genotype(rng, **kwargs))


def tiny(architecture=NASNET_A, **kwargs):
    args = dict(
        num_blocks=1,
        penultimate_filters=None,
        stem="cifar",
        include_top=True,
        classes=3,
        input_shape=(32, 32, 3),
        skip_reduction=False,
    )
    args.update(kwargs)
    if args["penultimate_filters"] is None:
        units = keras_nasnet.cells.output_channel_units(
            keras_nasnet.genotypes.get_architecture(architecture).normal
        )
        args["penultimate_filters"] = units * 4 * 4  # F = 4
    return NASNet(architecture, **args)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_random_architectures_build_and_run(seed, stem):
    architecture = random_architecture(seed)
    model = tiny(
        architecture,
        stem=stem,
        input_shape=(64, 64, 3) if stem == "imagenet" else (32, 32, 3),
        drop_path_keep_prob=0.8,
        total_training_steps=10,
    )
    x = np.random.default_rng(seed).normal(size=(2,) + model.input_shape[1:]).astype("float32")
    for training in (False, True):
        y = keras.ops.convert_to_numpy(model(x, training=training))
        assert y.shape == (2, 3) and np.all(np.isfinite(y))


@pytest.mark.parametrize(
    "num_inputs, output", [(3, "concat_unused"), (4, "all_states"), (3, "all_states")]
)
@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_random_multi_input_architectures_build_and_run(num_inputs, output, stem):
    architecture = random_architecture(
        num_inputs, num_blocks=3, num_inputs=num_inputs, output=output
    )
    model = tiny(
        architecture,
        stem=stem,
        input_shape=(64, 64, 3) if stem == "imagenet" else (32, 32, 3),
        num_blocks=2,
        skip_reduction=True,
        use_aux_head=stem == "cifar",
    )
    x = np.random.default_rng(0).normal(size=(2,) + model.input_shape[1:]).astype("float32")
    outputs = model(x, training=True)
    assert all(
        np.all(np.isfinite(keras.ops.convert_to_numpy(y))) for y in keras.tree.flatten(outputs)
    )


def test_every_op_and_combine_is_exercised_by_the_random_architectures():
    seen_ops, seen_combines = set(), set()
    for seed in range(4):
        for cell in (random_architecture(seed).normal, random_architecture(seed).reduction):
            for block in cell.blocks:
                seen_ops.update(block.ops)
                seen_combines.add(block.combine)
    assert seen_ops == set(OPS) and seen_combines == set(COMBINES)


def test_unused_inputs_of_a_reduction_cell_are_reduced_before_the_concat():
    reduction = Genotype(
        (Block((0, 0), ("conv_3x3", "max_pool_3x3")),), output="concat_unused"
    )  # p unused
    model = tiny(Architecture(NASNET_A.normal, reduction), penultimate_filters=96)
    layer = model.get_layer("reduction_reduce_bn_reduce_1_state_1")
    assert layer.output.shape[1] == 16  # halved to the cell's output size
    assert model.output_shape == (None, 3)


def test_penultimate_filters_set_the_width():
    model = tiny(penultimate_filters=24 * 4 * 2)  # F = 8: last stack 4F = 32 per branch, 6 branches
    assert model.get_layer("normal_concat_3").output.shape[-1] == 192
    with pytest.raises(ValueError, match="multiple of 24 for this architecture"):
        tiny(penultimate_filters=100)


def test_skip_reduction_feeds_the_cell_before_the_reductions_input():
    with_skip = tiny(num_blocks=2, skip_reduction=True, penultimate_filters=96)
    without = tiny(num_blocks=2, skip_reduction=False, penultimate_filters=96)
    # cells 0, 1, reduce_2, 3, 4: cell 3 reads h_{i-1} from cell 0 with skip, from cell 1 without
    source = lambda model: model.get_layer("adjust_relu_1_3").input  # noqa: E731
    assert source(with_skip) is with_skip.get_layer("normal_concat_0").output
    assert source(without) is without.get_layer("normal_concat_1").output


def test_drop_path_wraps_every_non_identity_op_with_the_cell_index():
    model = tiny(num_blocks=2, drop_path_keep_prob=0.6, total_training_steps=100)
    layers = [layer for layer in model.layers if isinstance(layer, ScheduledDropPath)]
    non_identity = lambda cell: sum(op != "identity" for b in cell.blocks for op in b.ops)  # noqa: E731
    assert len(layers) == 6 * non_identity(NASNET_A.normal) + 2 * non_identity(NASNET_A.reduction)
    assert {layer.total_num_cells for layer in layers} == {3 * 2 + 2}
    assert sorted({layer.cell_index for layer in layers}) == list(range(8))
    assert len({layer.seed for layer in layers}) == 1  # no seed given: random masks
    seeded = tiny(num_blocks=1, drop_path_keep_prob=0.6, total_training_steps=100, seed=3)
    seeds = [layer.seed for layer in seeded.layers if isinstance(layer, ScheduledDropPath)]
    assert len(set(seeds)) == len(seeds)  # independent masks per op


def test_fit_with_drop_path_and_aux_head_then_save_and_strip(tmp_path):
    model = tiny(
        num_blocks=1,
        drop_path_keep_prob=0.7,
        total_training_steps=8,
        use_aux_head=True,
        classifier_activation=None,
        seed=0,
    )
    assert [o.shape for o in model.outputs] == [(None, 3), (None, 3)]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=[loss, loss],
        loss_weights=[1.0, keras_nasnet.AUX_LOSS_WEIGHT],
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 32, 32, 3)).astype("float32")
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 0).astype("int32")
    history = model.fit(x, [y, y], batch_size=8, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert {"predictions_loss", "aux_predictions_loss"} <= set(history.history)
    drop = next(layer for layer in model.layers if isinstance(layer, ScheduledDropPath))
    assert int(drop.step.numpy()) == 12

    path = str(tmp_path / "tiny.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    for a, b in zip(model(x[:4]), restored(x[:4])):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-5
        )
    restored_drop = next(layer for layer in restored.layers if isinstance(layer, ScheduledDropPath))
    assert int(restored_drop.step.numpy()) == 12  # the schedule resumes where training stopped

    inference = keras_nasnet.strip_aux_head(restored)
    assert inference.output_shape == (None, 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(inference(x[:4])),
        keras.ops.convert_to_numpy(restored(x[:4])[0]),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="no auxiliary head"):
        keras_nasnet.strip_aux_head(inference)


# Full-size NASNet-B/C round trips are slow-marked: tests/test_nasnet_bc.py round-trips tiny ones.
# So is NASNetLarge's (20 s on 2 cores): NASNetMobile's goes through the same code.
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow)
        if ZOO[name].reconstructed or name == "nasnet_a_large"
        else name
        for name in sorted(ZOO)
    ],
)
def test_every_zoo_model_round_trips_through_keras_files(name, tmp_path):
    model = ZOO[name].make()
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    # Rebuilt from its config (architecture + settings), not from a layer list: same class,
    # cell and settings, same named layers in the same order (Keras numbers unnamed ones anew).
    assert isinstance(restored, keras_nasnet.NASNetModel)
    assert restored.architecture == model.architecture and restored.settings == model.settings
    assert weighted_layer_signature(restored) == weighted_layer_signature(model)
    assert [type(layer) for layer in restored.layers] == [type(layer) for layer in model.layers]
    x = np.random.default_rng(0).uniform(-1, 1, (1,) + model.input_shape[1:]).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)), keras.ops.convert_to_numpy(model(x)), atol=1e-5
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(stem="mnist"), ValueError, "`stem` must be one of"),
        (dict(num_blocks=0), ValueError, "num_blocks"),
        (dict(drop_path_keep_prob=0.5), ValueError, "total_training_steps"),
        (dict(drop_path_keep_prob=0.0, total_training_steps=5), ValueError, "drop_path_keep_prob"),
        (dict(use_aux_head=True, include_top=False), ValueError, "needs `include_top=True`"),
        (dict(stem="imagenet", input_shape=(16, 16, 3)), ValueError, "at least 32x32"),
        (dict(input_shape=(4, 4, 3)), ValueError, "at least 8x8"),  # the CIFAR stem's floor
        (dict(weights="imagenet"), ValueError, "NASNetMobile or NASNetLarge"),
        (dict(weights=3), ValueError, "weights"),
        (dict(weights="/nonexistent/w.h5"), ValueError, "does not exist"),
        (dict(classes=0), ValueError, "classes"),
    ],
)
def test_invalid_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny(**kwargs)


def test_aux_head_needs_room():
    with pytest.raises(ValueError, match="at least 5x5"):
        tiny(stem="imagenet", input_shape=(32, 32, 3), use_aux_head=True)


def test_unknown_architecture_name():
    with pytest.raises(ValueError, match="Unknown architecture"):
        NASNet("nasnet_q")


def test_channels_first_is_rejected():
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_first"):
            tiny()
    finally:
        keras.config.set_image_data_format(previous)
