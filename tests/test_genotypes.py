import json

import pytest

from keras_nasnet.genotypes import (
    COMBINES,
    NASNET_A,
    NASNET_B,
    NASNET_C,
    OPS,
    OUTPUT_RULES,
    SUPPORTED_NUM_INPUTS,
    Architecture,
    Block,
    Genotype,
    get_architecture,
)


def _cell(*blocks, **kwargs):
    return Genotype(blocks=tuple(blocks), **kwargs)


def test_ops_are_the_papers_fourteen():
    assert len(OPS) == 14 and len(set(OPS)) == 14
    for op in ("identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3", "avg_pool_5x5",
               "max_pool_3x3", "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3",
               "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7"):
        assert op in OPS


def test_nasnet_a_matches_the_published_cells():
    normal = NASNET_A.normal
    assert [b.inputs for b in normal.blocks] == [(0, 1), (1, 1), (0, 1), (1, 1), (0, 0)]
    assert [b.ops for b in normal.blocks] == [
        ("sep_conv_5x5", "sep_conv_3x3"), ("sep_conv_5x5", "sep_conv_3x3"), ("avg_pool_3x3", "identity"),
        ("avg_pool_3x3", "avg_pool_3x3"), ("sep_conv_3x3", "identity"),
    ]
    assert normal.output_states() == (1, 2, 3, 4, 5, 6)  # concat[p, b0..b4]
    reduction = NASNET_A.reduction
    assert reduction.output_states() == (3, 4, 5, 6)  # concat[b1..b4]
    assert {b.combine for b in normal.blocks + reduction.blocks} == {"add"}


def test_block_lists_become_tuples_and_values_hash():
    a = Block([0, 1], ["sep_conv_3x3", "identity"])
    b = Block((0, 1), ("sep_conv_3x3", "identity"), "add")
    assert a == b and hash(a) == hash(b) and a.inputs == (0, 1)
    assert len({NASNET_A, Architecture.from_json(NASNET_A.to_json())}) == 1
    with pytest.raises(Exception):
        a.combine = "concat"  # frozen


def test_json_round_trip():
    text = NASNET_A.to_json()
    assert Architecture.from_json(text) == NASNET_A
    assert json.loads(text)["normal"]["output"] == [1, 2, 3, 4, 5, 6]
    cell = _cell(Block((0, 1), ("conv_3x3", "max_pool_5x5"), "concat"), Block((2, 0), ("identity", "dil_conv_3x3")))
    assert Genotype.from_json(cell.to_json()) == cell
    assert cell.output_states() == (3,)


def test_concat_unused_output():
    cell = _cell(Block((0, 0), ("conv_1x1", "identity")), Block((2, 2), ("conv_1x1", "identity")))
    assert cell.output_states() == (1, 3)  # state 1 never read, state 3 is the last block


def test_four_inputs_and_all_states():
    cell = _cell(Block((0, 3), ("sep_conv_3x3", "identity"), "add_layer_norm"),
                 Block((4, 2), ("avg_pool_3x3", "conv_1x1"), "add_instance_norm"),
                 num_inputs=4, output="all_states")
    assert cell.num_states == 6 and cell.passes_all_states
    assert cell.output_states() == (4, 5)  # every created state, in block order; inputs are not passed on
    assert Genotype.from_json(cell.to_json()) == cell
    assert json.loads(cell.to_json())["output"] == "all_states"
    assert not NASNET_A.normal.passes_all_states


def test_exported_constants_describe_the_genotype_format():
    assert COMBINES == ("add", "concat", "add_layer_norm", "add_instance_norm")
    assert OUTPUT_RULES == ("concat_unused", "all_states")
    assert SUPPORTED_NUM_INPUTS == (2, 3, 4)


def test_old_json_without_the_new_fields_still_reads():
    text = '{"blocks": [{"inputs": [0, 1], "ops": ["identity", "conv_3x3"]}]}'
    cell = Genotype.from_json(text)
    assert cell.num_inputs == 2 and cell.output == "concat_unused" and cell.blocks[0].combine == "add"


def test_nasnet_b_and_c_round_trip_and_are_registered():
    for name, arch in (("nasnet_b", NASNET_B), ("nasnet_c", NASNET_C)):
        assert Architecture.from_json(arch.to_json()) == arch
        assert get_architecture(name) is arch


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Block((0, 1), ("sep_conv_3x3", "conv_9x9")), ValueError, "Unknown op 'conv_9x9'"),
        (lambda: Block((0, 1), ("identity", "identity"), "multiply"), ValueError, "Unknown combine 'multiply'"),
        (lambda: Block((0, -1), ("identity", "identity")), ValueError, ">= 0"),
        (lambda: Block((0, 1.0), ("identity", "identity")), TypeError, "integers"),
        (lambda: Block((0, True), ("identity", "identity")), TypeError, "integers"),
        (lambda: Block((0, 1, 2), ("identity", "identity")), TypeError, "pair"),
        (lambda: Block((0, 1), "identity"), TypeError, "pair"),
        (lambda: Block((0, 1), (3, "identity")), TypeError, "op names"),
        (lambda: _cell(), ValueError, "empty"),
        (lambda: Genotype(blocks=Block((0, 1), ("identity", "identity"))), TypeError, "sequence of Block"),
        (lambda: Genotype(blocks=({"inputs": (0, 1)},)), TypeError, "Block values"),
        (lambda: _cell(Block((0, 2), ("identity", "identity"))), ValueError, "state 2, which does not exist"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), Block((0, 3), ("identity", "identity"))),
         ValueError, "block 1 may read states 0..2"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs=5), ValueError, "num_inputs"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs=1), ValueError, "allowed: 2, 3, 4"),
        (lambda: _cell(Block((0, 4), ("identity", "identity")), num_inputs=4), ValueError, "states 0..3"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output="all"), ValueError, "all_states"),
        (lambda: Architecture(NASNET_A.normal, NASNET_B.reduction), ValueError, "same number of inputs"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs="2"), TypeError, "num_inputs"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output="sum"), ValueError, "output"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output=(0, 3)), ValueError, "not a state"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output=(2, 2)), ValueError, "repeats"),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output=()), TypeError, "non-empty"),
        (lambda: Architecture(NASNET_A.normal, "nasnet_a"), TypeError, "reduction"),
    ],
)
def test_invalid_cells_fail_clearly(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "text, error, match",
    [
        ("{not json", ValueError, "not valid JSON"),
        ('{"normal": {"blocks": []}}', ValueError, "'reduction'"),
        ('[1, 2]', TypeError, "mapping"),
        ('{"normal": {"blocks": [{"inputs": [0, 1]}]}, "reduction": {"blocks": []}}', ValueError, "'ops'"),
        ('{"normal": {"blocks": "x"}, "reduction": {"blocks": []}}', TypeError, "list"),
    ],
)
def test_from_json_rejects_bad_input(text, error, match):
    with pytest.raises(error, match=match):
        Architecture.from_json(text)


def test_get_architecture_by_name_file_and_errors(tmp_path):
    assert get_architecture("nasnet_a") is NASNET_A
    path = tmp_path / "arch.json"
    path.write_text(NASNET_A.to_json())
    assert get_architecture(str(path)) == NASNET_A
    with pytest.raises(ValueError, match="Unknown architecture 'nasnet_z'"):
        get_architecture("nasnet_z")
    bad = tmp_path / "bad.json"
    bad.write_text('{"normal": 1}')
    with pytest.raises((ValueError, TypeError)):
        get_architecture(str(bad))
