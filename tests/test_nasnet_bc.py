"""NASNet-B and NASNet-C: 4-input and all_states wiring, the new combines, the zoo models,
counts.
"""

import inspect

import keras
import numpy as np
import pytest

import keras_nasnet
from keras_nasnet import NASNET_B, NASNET_C, NASNet, compat
from keras_nasnet.applications.zoo import ZOO
from keras_nasnet.cells import CellSettings, build_cell, output_channel_units
from keras_nasnet.genotypes import Architecture, Block, Genotype, get_architecture
from keras_nasnet.ops import LayerSettings

# Our counts of the four models and the paper's (Tables 1 and 2); see bench/calibrate_bc.py.
# The bounds are what the reconstructions reach, not 5%: the README explains why.
EXPECTED = {  # name: (params, mult-adds (paper figure only for 224x224), largest relative error)
    "nasnet_b_mobile": (5_604_184, 531_087_712, 0.09),
    "nasnet_b_cifar": (2_375_002, 395_390_208, 0.09),
    "nasnet_c_mobile": (5_418_770, 606_367_712, 0.11),
    "nasnet_c_cifar": (2_781_090, 486_263_040, 0.11),
}


def tiny(architecture, **kwargs):
    args = dict(
        num_blocks=1,
        penultimate_filters=output_channel_units(architecture.normal) * 4 * 4,
        stem="cifar",
        classes=3,
        input_shape=(32, 32, 3),
        skip_reduction=False,
    )
    args.update(kwargs)
    return NASNet(architecture, **args)


def _numpy(outputs):
    return [
        keras.ops.convert_to_numpy(y)
        for y in (outputs if isinstance(outputs, (list, tuple)) else [outputs])
    ]


def _changed(model, x, index):
    """Which of `model`'s outputs change when input `index` changes."""
    perturbed = list(x)
    # Noise, not a constant: a normalization after the add would remove a constant shift.
    perturbed[index] = x[index] + np.random.default_rng(index).normal(size=x[index].shape).astype(
        "float32"
    )
    return [
        not np.allclose(a, b, atol=1e-5) for a, b in zip(_numpy(model(x)), _numpy(model(perturbed)))
    ]


def _random_inputs(model, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2,) + tuple(t.shape[1:])).astype("float32") for t in model.inputs]


def test_the_reconstructions_follow_the_papers_rules():
    for cell in (NASNET_B.normal, NASNET_B.reduction):
        assert cell.num_inputs == 4 and len(cell.blocks) == 4 and cell.output == "all_states"
        assert cell.output_states() == (4, 5, 6, 7)  # every state the cell creates is passed on
        assert cell.consumed_states() >= {0, 1, 2, 3}  # and it reads all four inputs
    for cell in (NASNET_C.normal, NASNET_C.reduction):
        assert cell.num_inputs == 2 and len(cell.blocks) == 4 and cell.output == "concat_unused"
    combines = {
        b.combine
        for arch in (NASNET_B, NASNET_C)
        for cell in (arch.normal, arch.reduction)
        for b in cell.blocks
    }
    assert {"add_layer_norm", "add_instance_norm"} <= combines
    assert get_architecture("nasnet_b") is NASNET_B and get_architecture("nasnet_c") is NASNET_C


def test_a_four_input_cell_reads_exactly_the_states_its_blocks_name():
    # Block 0 reads inputs 0 and 3, block 1 reads block 0: inputs 1 and 2 reach nothing.
    cell = Genotype(
        (
            Block((0, 3), ("conv_1x1", "sep_conv_3x3"), "add_instance_norm"),
            Block((4, 4), ("identity", "avg_pool_3x3"), "add_layer_norm"),
        ),
        num_inputs=4,
        output="all_states",
    )
    inputs = [keras.Input((8, 8, 4)) for _ in range(4)]
    outputs = build_cell(
        cell,
        inputs,
        filters=4,
        reduction=False,
        block_id="t",
        cell_index=0,
        settings=CellSettings(LayerSettings()),
        halvings=[0, 0, 0, 0],
    )
    assert isinstance(outputs, list) and len(outputs) == 2  # passed on separately, not concatenated
    model = keras.Model(inputs, outputs)
    x = _random_inputs(model)
    assert _changed(model, x, 0) == [True, True]
    assert _changed(model, x, 1) == [False, False]
    assert _changed(model, x, 2) == [False, False]
    assert _changed(model, x, 3) == [True, True]


def test_a_state_only_a_later_cell_reads_changes_that_cell_and_not_an_earlier_one():
    # One output per cell, 4 inputs, blocks read states 0 and 2: cell i reads cells i-1 and i-3.
    cell = Genotype((Block((0, 2), ("sep_conv_3x3", "identity")),), num_inputs=4, output=(4,))
    model = tiny(Architecture(cell, cell), num_blocks=4, penultimate_filters=16)
    stem = model.get_layer("stem_bn1").output
    cells = [model.get_layer(f"normal_add_1_{i}").output for i in range(4)]
    # Cut the graph at the stem and cells 0 and 1, so each reaches cells 2 and 3 only directly.
    sub = keras.Model([stem, cells[0], cells[1]], [cells[2], cells[3]])
    x = _random_inputs(sub)
    # Cell 2 reads (cell 1, cell 0, stem, padding) and uses states 0 and 2: cell 1 and the stem.
    # Cell 3 reads (cell 2, cell 1, cell 0, stem) and uses cell 2 and cell 0.
    assert _changed(sub, x, 1) == [False, True]  # cell 0: skipped by cell 2, read by cell 3
    assert _changed(sub, x, 0) == [True, True]  # the stem: read by cell 2 (and so cell 3)
    assert _changed(sub, x, 2) == [True, True]


def test_all_states_cells_feed_the_next_cell_newest_first():
    model = tiny(NASNET_B, num_blocks=2)
    # Cell 1's inputs are cell 0's four blocks, newest (the last block) first.
    blocks = [_block_output(model, NASNET_B.normal, b, "0") for b in range(4)]
    outputs = [_block_output(model, NASNET_B.normal, b, "1") for b in range(4)]
    sub = keras.Model(blocks, outputs)
    x = _random_inputs(sub)
    for b in range(4):
        state = 3 - b  # block 3 of cell 0 is state 0 of cell 1, block 0 is state 3
        assert _changed(sub, x, b) == _reaches(NASNET_B.normal, state), (b, state)
    # h_i of cell 1 is its newest input projected by the 1x1 conv, as for NASNet-A.
    conv = model.get_layer("normal_conv_1_1")
    assert compat.producer(conv.input).input is blocks[3]


def _block_output(model, cell, b, block_id):
    stem = {
        "concat": "concat",
        "add": "add",
        "add_layer_norm": "layer_norm",
        "add_instance_norm": "instance_norm",
    }[cell.blocks[b].combine]
    return model.get_layer(f"normal_{stem}_{b + 1}_{block_id}").output


def _reaches(cell, state):
    """For each block of `cell`, whether input `state` reaches its output."""
    reached = {state}
    result = []
    for b, block in enumerate(cell.blocks):
        hit = any(i in reached for i in block.inputs)
        if hit:
            reached.add(cell.num_inputs + b)
        result.append(hit)
    return result


def test_four_inputs_reach_back_over_two_reductions():
    cell = Genotype((Block((0, 3), ("identity", "identity")),), num_inputs=4, output=(4,))
    model = tiny(Architecture(cell, cell), num_blocks=1, penultimate_filters=16)
    # Cells 0, reduce_1, 2, reduce_2, 3. Cell 3 reads (reduce_2, 2, reduce_1, 0), and cell 0 is
    # 4x its size: two factorized reductions bring it to 8x8.
    assert model.get_layer("adjust_bn_3_input_3").output.shape[1:] == (16, 16, 16)
    assert model.get_layer("adjust_bn_3_input_3_1").output.shape[1:] == (8, 8, 16)
    assert model.output_shape == (None, 3)


@pytest.mark.parametrize("name", ["nasnet_b", "nasnet_c"])
def test_tiny_model_trains_and_round_trips_through_a_keras_file(name, tmp_path):
    architecture = get_architecture(name)
    model = tiny(architecture, drop_path_keep_prob=0.8, total_training_steps=10, seed=0)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="sparse_categorical_crossentropy"
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 32, 32, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int32")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    path = str(tmp_path / f"{name}.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(_numpy(restored(x[:4]))[0], _numpy(model(x[:4]))[0], atol=1e-5)
    norms = [
        layer for layer in restored.layers if isinstance(layer, keras.layers.GroupNormalization)
    ]
    assert {layer.groups for layer in norms} > {1}  # both layer norm (1 group) and instance norm


@pytest.mark.parametrize(
    "name", ["nasnet_b_mobile", "nasnet_c_mobile", "nasnet_b_cifar", "nasnet_c_cifar"]
)
def test_zoo_counts(name):
    entry = ZOO[name]
    assert entry.reconstructed and not entry.imagenet_weights
    model = entry.make()
    params, mult_adds, tolerance = EXPECTED[name]
    assert model.count_params() == params
    assert abs(params / entry.paper_params - 1) <= tolerance
    assert keras_nasnet.count_mult_adds(model) == mult_adds
    if entry.paper_mult_adds is not None:
        assert abs(mult_adds / entry.paper_mult_adds - 1) <= tolerance


@pytest.mark.parametrize(
    "factory",
    [
        keras_nasnet.NASNetBMobile,
        keras_nasnet.NASNetCMobile,
        keras_nasnet.NASNetBCIFAR,
        keras_nasnet.NASNetCCIFAR,
    ],
)
def test_imagenet_weights_do_not_exist(factory):
    with pytest.raises(ValueError, match=f"No ImageNet weights exist for {factory.__name__}"):
        factory(weights="imagenet")


def test_signatures_are_nasnet_mobiles():
    reference = list(inspect.signature(keras_nasnet.NASNetMobile).parameters)
    for factory in (keras_nasnet.NASNetBMobile, keras_nasnet.NASNetCMobile):
        assert list(inspect.signature(factory).parameters) == reference
    for factory in (keras_nasnet.NASNetBCIFAR, keras_nasnet.NASNetCCIFAR):
        assert list(inspect.signature(factory).parameters) == reference + ["kwargs"]
        assert inspect.signature(factory).parameters["classes"].default == 10


def test_weights_path_loads(tmp_path):
    size = dict(num_blocks=1, penultimate_filters=output_channel_units(NASNET_C.normal) * 16)
    source = keras_nasnet.NASNetCCIFAR(**size)
    path = str(tmp_path / "c.weights.h5")
    source.save_weights(path)
    loaded = keras_nasnet.NASNetCCIFAR(weights=path, **size)
    x = np.random.default_rng(3).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(_numpy(loaded(x))[0], _numpy(source(x))[0], atol=1e-6)
    with pytest.raises(ValueError, match="does not exist"):
        keras_nasnet.NASNetBCIFAR(weights=str(tmp_path / "missing.h5"))


def test_mobile_models_without_top_default_to_224():
    model = keras_nasnet.NASNetBMobile(include_top=False, pooling="avg")
    assert model.input_shape == (None, 224, 224, 3)
    assert model.output_shape == (None, 1536)  # P: the final four states concatenated
