import numpy as np
import pytest

from keras_nasnet import NASNET_A, Architecture, Block, Genotype
from keras_nasnet.search import SearchSpace


def test_paper_space_has_two_cells_of_five_decisions_per_block():
    space = SearchSpace()
    assert len(space) == 2 * 5 * 5
    assert space.decisions[0].name == "normal/block_0/input_a"
    assert space.decisions[2].name == "normal/block_0/op_a"
    assert space.decisions[25].name == "reduction/block_0/input_a"
    assert space.decisions[-1].name == "reduction/block_4/combine"


def test_input_decisions_only_offer_existing_states():
    space = SearchSpace(num_blocks=4)
    for decision in space.decisions:
        if "/input_" in decision.name:
            block = int(decision.name.split("/")[1].split("_")[1])
            assert decision.choices == tuple(range(2 + block))


@pytest.mark.parametrize("seed", range(5))
def test_random_architectures_round_trip(seed):
    space = SearchSpace()
    rng = np.random.default_rng(seed)
    indices = space.sample_uniform(rng)
    architecture = space.decode(indices)
    assert space.encode(architecture) == indices
    values = space.to_values(architecture)
    assert space.from_values(values) == architecture
    assert Architecture.from_json(architecture.to_json()) == architecture


def test_values_are_scalars_with_one_choice_per_decision():
    space = SearchSpace(num_blocks=2)
    hp = space.hyperparameters()
    assert len(hp.space) == len(space)
    architecture = space.decode(space.sample_uniform(np.random.default_rng(0)))
    for value in space.to_values(architecture).values():
        assert type(value) in (int, str)
    # Round trip through keras-tuner's own config (what its gRPC and trial files carry).
    hp.values = space.to_values(architecture)
    restored = type(hp).from_config(hp.get_config())
    assert space.from_values(restored) == architecture


def test_restricted_space_rejects_what_it_does_not_offer():
    space = SearchSpace(ops=("identity", "sep_conv_3x3"), num_blocks=5, combines=("add",))
    assert space.decisions[2].choices == ("identity", "sep_conv_3x3")
    nasnet_a_cells = Architecture(
        Genotype(NASNET_A.normal.blocks), Genotype(NASNET_A.reduction.blocks)
    )  # NASNet-A's blocks with the search space's output rule
    SearchSpace().encode(nasnet_a_cells)
    with pytest.raises(ValueError, match="outside this search space"):
        space.encode(nasnet_a_cells)  # uses pools and other separable convs
    two_blocks = Architecture(*(Genotype((Block((0, 1), ("identity", "identity")),) * 2),) * 2)
    with pytest.raises(ValueError, match="blocks"):
        space.encode(two_blocks)


def test_nasnet_a_is_in_the_paper_space_except_its_explicit_outputs():
    space = SearchSpace()
    with pytest.raises(ValueError, match="output rule"):
        space.encode(NASNET_A)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ops": ("sep_conv_9x9",)}, "Unknown ops"),
        ({"combines": ("multiply",)}, "Unknown combines"),
        ({"num_blocks": 0}, "num_blocks"),
        ({"num_inputs": 5}, "num_inputs"),
        ({"ops": ()}, "non-empty"),
        ({"output": "everything"}, "output"),
    ],
)
def test_bad_space_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchSpace(**kwargs)


def test_decode_rejects_out_of_range_and_wrong_length():
    space = SearchSpace(num_blocks=1)
    with pytest.raises(ValueError, match="out of range"):
        space.decode([2, 0, 0, 0, 0] * 2)  # block 0 has inputs 0..1 only
    with pytest.raises(ValueError, match="Expected 10"):
        space.decode([0] * 9)
    with pytest.raises(ValueError, match="missing"):
        space.from_values({})


def test_config_round_trip_and_equality():
    space = SearchSpace(ops=("identity", "max_pool_3x3"), num_blocks=3, combines=("concat",))
    assert SearchSpace.from_config(space.get_config()) == space
    assert space != SearchSpace()
    assert space.log10_size == pytest.approx(sum(np.log10(space.choice_counts)))


def test_spaces_of_nasnet_b_style_cells_build_models():
    from keras_nasnet import training

    space = SearchSpace(
        ops=("identity", "sep_conv_3x3"),
        num_blocks=2,
        num_inputs=4,
        combines=("add", "add_layer_norm", "add_instance_norm"),
        output="all_states",
    )
    architecture = space.decode(space.sample_uniform(np.random.default_rng(0)))
    assert space.encode(architecture) == space.encode(
        space.from_values(space.to_values(architecture))
    )
    settings = training.TrainingSettings(num_blocks=1, filters=4, epochs=1)
    model = training.build_model(architecture, (16, 16, 1), 3, settings, steps_per_epoch=1)
    assert model.output_shape == (None, 3)
