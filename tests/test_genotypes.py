import dataclasses
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
    read_architecture,
)


def _cell(*blocks, **kwargs):
    return Genotype(blocks=tuple(blocks), **kwargs)


def test_every_listed_op_is_accepted_and_nothing_else():
    # Each name the constants list must build a Block and survive JSON; a near miss must not.
    for op in OPS:
        block = Block((0, 1), (op, "identity"))
        assert Block.from_dict(json.loads(json.dumps(block.to_dict()))) == block
    for near_miss in ("sep_conv_3X3", "sep_conv_9x9", "Identity", "avg_pool_3x3 ", ""):
        with pytest.raises(ValueError, match="Unknown op"):
            Block((0, 1), (near_miss, "identity"))


def test_nasnet_a_matches_the_published_cells():
    normal = NASNET_A.normal
    assert [b.inputs for b in normal.blocks] == [(0, 1), (1, 1), (0, 1), (1, 1), (0, 0)]
    assert [b.ops for b in normal.blocks] == [
        ("sep_conv_5x5", "sep_conv_3x3"),
        ("sep_conv_5x5", "sep_conv_3x3"),
        ("avg_pool_3x3", "identity"),
        ("avg_pool_3x3", "avg_pool_3x3"),
        ("sep_conv_3x3", "identity"),
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
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.combine = "concat"  # frozen


def test_json_round_trip():
    text = NASNET_A.to_json()
    assert Architecture.from_json(text) == NASNET_A
    assert json.loads(text)["normal"]["output"] == [1, 2, 3, 4, 5, 6]
    cell = _cell(
        Block((0, 1), ("conv_3x3", "max_pool_5x5"), "concat"),
        Block((2, 0), ("identity", "dil_conv_3x3")),
    )
    assert Genotype.from_json(cell.to_json()) == cell
    assert cell.output_states() == (3,)


def test_concat_unused_output():
    cell = _cell(Block((0, 0), ("conv_1x1", "identity")), Block((2, 2), ("conv_1x1", "identity")))
    assert cell.output_states() == (1, 3)  # state 1 never read, state 3 is the last block


def test_four_inputs_and_all_states():
    cell = _cell(
        Block((0, 3), ("sep_conv_3x3", "identity"), "add_layer_norm"),
        Block((4, 2), ("avg_pool_3x3", "conv_1x1"), "add_instance_norm"),
        num_inputs=4,
        output="all_states",
    )
    assert cell.num_states == 6 and cell.passes_all_states
    assert cell.output_states() == (
        4,
        5,
    )  # every created state, in block order; inputs are not passed on
    assert Genotype.from_json(cell.to_json()) == cell
    assert json.loads(cell.to_json())["output"] == "all_states"
    assert not NASNET_A.normal.passes_all_states


def test_every_listed_combine_output_rule_and_input_count_round_trips():
    for combine in COMBINES:
        cell = _cell(Block((0, 1), ("identity", "identity"), combine))
        assert Genotype.from_json(cell.to_json()).blocks[0].combine == combine
    for rule in OUTPUT_RULES:
        assert (
            Genotype.from_json(
                _cell(Block((0, 1), ("identity", "identity")), output=rule).to_json()
            ).output
            == rule
        )
    for n in SUPPORTED_NUM_INPUTS:
        assert _cell(Block((0, n - 1), ("identity", "identity")), num_inputs=n).num_states == n + 1
    for n in (min(SUPPORTED_NUM_INPUTS) - 1, max(SUPPORTED_NUM_INPUTS) + 1):
        with pytest.raises(ValueError, match="num_inputs"):
            _cell(Block((0, 0), ("identity", "identity")), num_inputs=n)


def test_old_json_without_the_new_fields_still_reads():
    text = '{"blocks": [{"inputs": [0, 1], "ops": ["identity", "conv_3x3"]}]}'
    cell = Genotype.from_json(text)
    assert (
        cell.num_inputs == 2 and cell.output == "concat_unused" and cell.blocks[0].combine == "add"
    )


def test_nasnet_b_and_c_round_trip_and_are_registered():
    for name, arch in (("nasnet_b", NASNET_B), ("nasnet_c", NASNET_C)):
        assert Architecture.from_json(arch.to_json()) == arch
        assert get_architecture(name) is arch


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Block((0, 1), ("sep_conv_3x3", "conv_9x9")), ValueError, "Unknown op 'conv_9x9'"),
        (
            lambda: Block((0, 1), ("identity", "identity"), "multiply"),
            ValueError,
            "Unknown combine 'multiply'",
        ),
        (lambda: Block((0, -1), ("identity", "identity")), ValueError, ">= 0"),
        (lambda: Block((0, 1.0), ("identity", "identity")), TypeError, "integers"),
        (lambda: Block((0, True), ("identity", "identity")), TypeError, "integers"),
        (lambda: Block((0, 1, 2), ("identity", "identity")), TypeError, "pair"),
        (lambda: Block((0, 1), "identity"), TypeError, "pair"),
        (lambda: Block((0, 1), (3, "identity")), TypeError, "op names"),
        (lambda: _cell(), ValueError, "empty"),
        (
            lambda: Genotype(blocks=Block((0, 1), ("identity", "identity"))),
            TypeError,
            "sequence of Block",
        ),
        (lambda: Genotype(blocks=({"inputs": (0, 1)},)), TypeError, "Block values"),
        (
            lambda: _cell(Block((0, 2), ("identity", "identity"))),
            ValueError,
            "state 2, which does not exist",
        ),
        (
            lambda: _cell(
                Block((0, 1), ("identity", "identity")), Block((0, 3), ("identity", "identity"))
            ),
            ValueError,
            "block 1 may read states 0..2",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs=5),
            ValueError,
            "num_inputs",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs=1),
            ValueError,
            "allowed: 2, 3, 4",
        ),
        (
            lambda: _cell(Block((0, 4), ("identity", "identity")), num_inputs=4),
            ValueError,
            "states 0..3",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), output="all"),
            ValueError,
            "all_states",
        ),
        (
            lambda: Architecture(NASNET_A.normal, NASNET_B.reduction),
            ValueError,
            "same number of inputs",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), num_inputs="2"),
            TypeError,
            "num_inputs",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), output="sum"),
            ValueError,
            "output",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), output=(0, 3)),
            ValueError,
            "not a state",
        ),
        (
            lambda: _cell(Block((0, 1), ("identity", "identity")), output=(2, 2)),
            ValueError,
            "repeats",
        ),
        (lambda: _cell(Block((0, 1), ("identity", "identity")), output=()), TypeError, "non-empty"),
        (lambda: Architecture(NASNET_A.normal, "nasnet_a"), TypeError, "reduction"),
    ],
)
def test_invalid_cells_fail_clearly(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _nasnet_a_with(change):
    data = NASNET_A.to_dict()
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        ('{"normal": {"blocks": []}}', "'reduction'"),
        ("[1, 2]", r"Architecture must be a mapping .*\[1, 2\]"),
        ("3", "must be a mapping"),
        ('"nasnet_a"', "must be a mapping"),
        (
            '{"normal": {"blocks": [{"inputs": [0, 1]}]}, "reduction": {"blocks": []}}',
            r"normal.blocks\[0\].*'ops'",
        ),
        (
            '{"normal": {"blocks": "x"}, "reduction": {"blocks": []}}',
            "normal.blocks must be a list",
        ),
        (
            '{"normal": {"blocks": [{"inputs": 0, "ops": []}]}, "reduction": {"blocks": []}}',
            r"normal.blocks\[0\].inputs must be a list",
        ),
        ('{"normal": 1, "normal": 2, "reduction": 3}', "'normal' appears twice"),
        ("[" * 100_000, "nested too deeply"),
        (
            _nasnet_a_with(lambda d: d["normal"]["blocks"][2].update(combin="concat")),
            r"unknown key 'combin' in normal.blocks\[2\] \(did you mean 'combine'\?\)",
        ),
        (
            _nasnet_a_with(lambda d: d["reduction"].update(num_input=2)),
            r"unknown key 'num_input' in reduction \(did you mean 'num_inputs'\?\)",
        ),
        (
            _nasnet_a_with(lambda d: d.update(comment="hand-edited")),
            "unknown key 'comment' in Architecture",
        ),
        (_nasnet_a_with(lambda d: d["normal"].update(num_inputs=2.0)), "normal: .*num_inputs"),
        (
            _nasnet_a_with(
                lambda d: d["reduction"]["blocks"][4].update(ops=["sep_conv_3x3", "max"])
            ),
            r"reduction.blocks\[4\]: Unknown op 'max'",
        ),
    ],
)
def test_from_json_refuses_bad_input_with_a_value_error_naming_the_key(text, match):
    with pytest.raises(ValueError, match=match):
        Architecture.from_json(text)


def test_a_misspelled_key_is_refused_not_replaced_by_its_default():
    text = _nasnet_a_with(lambda d: d["normal"]["blocks"][0].update(combin="concat"))
    with pytest.raises(ValueError, match="combin"):
        Architecture.from_json(text)
    with pytest.raises(ValueError, match="combin"):
        Block.from_dict({"inputs": [0, 1], "ops": ["identity", "identity"], "combin": "concat"})


def test_from_json_accepts_utf8_bytes_and_refuses_other_encodings():
    assert Architecture.from_json(NASNET_A.to_json().encode("utf-8")) == NASNET_A
    utf8 = NASNET_A.to_json().replace('"normal"', '"normal\u00e9"').encode("utf-8")
    with pytest.raises(ValueError, match="unknown key 'normal\u00e9'"):  # decoded, then refused
        Architecture.from_json(utf8)
    with pytest.raises(ValueError, match=r"'cell.json': not UTF-8 text \(byte 0xe9"):
        Architecture.from_json('{"normal\u00e9": 1}'.encode("latin-1"), source="cell.json")
    with pytest.raises(TypeError, match="JSON string or bytes"):
        Architecture.from_json(NASNET_A.to_dict())


def test_architecture_files_are_named_in_every_error(tmp_path):
    cases = {
        "truncated.json": NASNET_A.to_json()[:-40].encode(),
        "list.json": b"[]",
        "binary.json": b"\x89PNG\r\n\x1a\n\xff\xfe",
        "misspelled.json": _nasnet_a_with(
            lambda d: d["normal"].update(outptu="all_states")
        ).encode(),
        "empty.json": b"",
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match=f"Architecture file '{path}'") as error:
            get_architecture(str(path))
        assert "Traceback" not in str(error.value)
    with pytest.raises(ValueError, match="is a directory"):
        get_architecture(str(tmp_path))
    with pytest.raises(ValueError, match="Cannot read architecture file .*nowhere.json"):
        read_architecture(str(tmp_path / "nowhere.json"))


def test_get_architecture_by_name_file_and_errors(tmp_path):
    assert get_architecture("nasnet_a") is NASNET_A
    path = tmp_path / "arch.json"
    path.write_text(NASNET_A.to_json())
    assert get_architecture(str(path)) == NASNET_A
    with pytest.raises(ValueError, match="Unknown architecture 'nasnet_z'"):
        get_architecture("nasnet_z")
    bad = tmp_path / "bad.json"
    bad.write_text('{"normal": 1}')
    with pytest.raises(ValueError, match=f"'{bad}': .*'reduction'"):
        get_architecture(str(bad))
