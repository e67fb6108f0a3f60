"""A narrowed cell space (a design-space study's narrowing.json) as `search` and compare's
random:K read it: `SearchSpace(allowed=...)`, `cell_search_space`, `search --space-file` and
`compare --random-space`."""

import json
import os

import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.design_spaces.sampling import CellSpace, cell_search_space
from keras_nasnet.search.spaces.nasnet_cells import SearchSpace
from tests.helpers import only_error_line

ALLOWED = {"normal/block_0/op_a": ["sep_conv_5x5", "identity"], "reduction/block_1/input_b": [2]}


def _write(path, content):
    with open(path, "w") as f:
        json.dump(content, f)
    return str(path)


# -- SearchSpace(allowed=...) ----------------------------------------------------------------


def test_a_restricted_space_offers_only_the_allowed_values_in_the_base_order():
    space = SearchSpace(num_blocks=2, allowed=ALLOWED)
    choices = {d.name: d.choices for d in space.decisions}
    assert choices["normal/block_0/op_a"] == ("identity", "sep_conv_5x5")  # the base order
    assert choices["reduction/block_1/input_b"] == (2,)
    assert choices["normal/block_0/op_b"] == SearchSpace(num_blocks=2).ops  # not named: all
    assert space.log10_size < SearchSpace(num_blocks=2).log10_size
    hp = space.hyperparameters()
    assert hp._hps["normal/block_0/op_a"][0].values == ["identity", "sep_conv_5x5"]
    rng = np.random.default_rng(0)
    for _ in range(20):
        architecture = space.decode(space.sample_uniform(rng))
        assert architecture.normal.blocks[0].ops[0] in ("identity", "sep_conv_5x5")
        assert architecture.reduction.blocks[1].inputs[1] == 2
        assert space.decode(space.encode(architecture)) == architecture
    outside = SearchSpace(num_blocks=2).decode([0] * len(space))
    with pytest.raises(ValueError, match=r"input_b=0 is outside this search space; allowed: \(2"):
        space.encode(outside)


def test_a_restricted_space_round_trips_its_config_and_an_unrestricted_one_reads_as_before():
    space = SearchSpace(num_blocks=2, allowed=ALLOWED)
    config = json.loads(json.dumps(space.get_config()))
    assert config["allowed"]["normal/block_0/op_a"] == ["identity", "sep_conv_5x5"]
    again = SearchSpace.from_config(config)
    assert again == space and [d.choices for d in again.decisions] == [
        d.choices for d in space.decisions
    ]
    assert "allowed" not in SearchSpace().get_config()
    assert space != SearchSpace(num_blocks=2) and space.unrestricted == SearchSpace(num_blocks=2)


@pytest.mark.parametrize(
    "allowed, message",
    [
        ({"normal/block_9/op_a": ["identity"]}, "'normal/block_9/op_a' is not a decision"),
        ({"normal/block_0/op_a": ["conv_9x9"]}, "has no value 'conv_9x9' in its base space"),
        ({"normal/block_0/input_a": [5]}, "has no value 5 in its base space"),
        ({"normal/block_0/op_a": []}, "needs a non-empty list"),
        ({"normal/block_0/op_a": "identity"}, "needs a non-empty list"),
        (["identity"], "must be a dict"),
    ],
)
def test_a_bad_restriction_is_named(allowed, message):
    with pytest.raises(ValueError, match=message):
        SearchSpace(num_blocks=2, allowed=allowed)


def test_a_study_space_draws_from_the_same_restricted_search_space():
    space = CellSpace("nasnet-narrowed", SearchSpace(num_blocks=2), ALLOWED)
    assert space.restricted == SearchSpace(num_blocks=2, allowed=ALLOWED)
    architecture, values = space.sample(np.random.default_rng(1))
    assert values["reduction/block_1/input_b"] == 2
    assert space.restricted.to_values(architecture) == values


# -- cell_search_space: nasnet, enas, file:PATH[#KEY] -----------------------------------------


def test_cell_search_space_reads_named_spaces_and_narrowing_files(tmp_path):
    assert cell_search_space("nasnet", 2) == SearchSpace(num_blocks=2)
    assert cell_search_space("enas").combines == ("add",)
    one = _write(tmp_path / "one.json", {"nasnet": ALLOWED})
    assert cell_search_space(f"file:{one}", 2) == SearchSpace(num_blocks=2, allowed=ALLOWED)
    enas_allowed = {"normal/block_0/op_a": ["identity"]}
    several = _write(
        tmp_path / "several.json", {"nasnet": ALLOWED, "enas": enas_allowed, "anynetx-a": {}}
    )
    enas = cell_search_space(f"file:{several}#enas", 2)
    assert enas.combines == ("add",) and enas.allowed == {"normal/block_0/op_a": ("identity",)}
    with pytest.raises(ValueError, match=f"2 cell spaces; name one: file:{several}#nasnet, "):
        cell_search_space(f"file:{several}", 2)
    with pytest.raises(ValueError, match="no cell space 'darts'; its cell spaces: nasnet, enas"):
        cell_search_space(f"file:{several}#darts", 2)
    with pytest.raises(ValueError, match="Unknown cell space 'anynetx-a'"):
        cell_search_space("anynetx-a")


# -- the command line -------------------------------------------------------------------------

BASE = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
# The smallest cell search that trains (tests/test_multi_fidelity_cli.py's, the space from a file).
TINY = [
    "--cell-blocks",
    "1",
    "--blocks",
    "1",
    "--filters",
    "4",
    "--batch-size",
    "32",
    "--epoch-examples",
    "64",
    "--validation-size",
    "64",
    "--epochs",
    "1",
    "--algorithm",
    "random",
    "--no-final",
]
ONE_BLOCK = {
    "normal/block_0/op_a": ["sep_conv_3x3", "identity"],
    "normal/block_0/op_b": ["identity"],
    "normal/block_0/combine": ["add"],
    "reduction/block_0/op_a": ["avg_pool_3x3"],
    "reduction/block_0/op_b": ["identity", "max_pool_3x3"],
    "reduction/block_0/combine": ["add"],
}


@pytest.fixture
def in_a_fresh_folder(tmp_path, monkeypatch):
    # The commands hold "somewhere" (a relative --directory) while they run.
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--ops", "identity"], "--ops does not apply to --space-file (the file's space sets"),
        (["--combines", "add"], "--combines does not apply to --space-file (the file's space"),
        (["--evaluation", "shared"], "--space-file does not apply to --evaluation shared (the"),
        (["--space", "macro"], "--space-file does not apply to --space macro (it searches"),
    ],
)
def test_flags_that_do_not_fit_a_space_file_are_refused_in_one_line(
    extra, expected, capsys, in_a_fresh_folder
):
    _write("narrowing.json", {"nasnet": ONE_BLOCK})
    assert cli.main([*BASE, "--space-file", "narrowing.json", *extra]) == 2
    assert expected in only_error_line(capsys)
    assert not os.path.exists("somewhere")


def test_a_bad_space_file_is_one_line_naming_it(capsys, in_a_fresh_folder):
    _write("several.json", {"nasnet": ONE_BLOCK, "enas": {}})
    for path, expected in (
        ("missing.json", "missing.json"),
        ("several.json", "several.json: 2 cell spaces; name one: file:several.json#nasnet"),
    ):
        assert cli.main([*BASE, *TINY, "--space-file", path, "--max-trials", "1"]) == 2
        assert expected in only_error_line(capsys)


def test_a_search_in_a_narrowed_space_proposes_only_its_values_and_keeps_to_it_on_resume(
    capsys, in_a_fresh_folder
):
    _write("narrowing.json", {"nasnet": ONE_BLOCK})
    argv = [*BASE, *TINY, "--space-file", "narrowing.json", "--max-trials", "3"]
    assert cli.main(argv) == 0
    trials = os.path.join("somewhere", "search")
    values = []
    for name in sorted(os.listdir(trials)):
        if name.startswith("trial_"):
            with open(os.path.join(trials, name, "trial.json")) as f:
                values.append(json.load(f)["hyperparameters"]["values"])
    assert len(values) == 3
    for trial in values:
        for decision, allowed in ONE_BLOCK.items():
            assert trial[decision] in allowed, (decision, trial)
    with open(os.path.join("somewhere", "best_architecture.json")) as f:
        best = json.load(f)
    assert best["normal"]["blocks"][0]["ops"][1] == "identity"
    capsys.readouterr()
    # The unrestricted space on the same directory is another search: refused.
    assert cli.main([*BASE, *TINY, "--max-trials", "3"]) == 2
    assert "allowed" in only_error_line(capsys)


def test_compare_draws_random_cells_from_the_random_space(monkeypatch, capsys, in_a_fresh_folder):
    import keras_nasnet.compare as compare_package

    seen = {}

    def compare(architectures, *args, space=None, **kwargs):
        seen["space"] = space
        raise SystemExit(0)  # what compare received is all this test needs

    monkeypatch.setattr(compare_package, "compare", compare)
    _write("narrowing.json", {"nasnet": ONE_BLOCK})
    argv = ["compare", "--dataset", "fashion_mnist_sample", "--directory", "c", "nasnet_a"]
    with pytest.raises(SystemExit):
        cli.main([*argv, "random:2", "--random-space", "file:narrowing.json"])
    assert seen["space"] == SearchSpace(allowed=ONE_BLOCK)
    assert cli.main([*argv, "--random-space", "enas"]) == 2
    assert "--random-space applies to random:K architectures" in only_error_line(capsys)
