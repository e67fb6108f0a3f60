"""A search records what its rewards depend on beyond the cell (the child's recipe, its data,
the reward's parameters) and refuses to resume under another: new rewards would be ranked
against saved ones of another scale."""

import json
import os

import pytest

from keras_nasnet import cli, search
from keras_nasnet.search import SearchSpace
from keras_nasnet.search.oracles.base import recipe_difference
from tests.helpers import TINY_CHILD_SEARCH, only_error_line

SPACE = SearchSpace(num_blocks=1)


def _run(directory, max_trials, **kwargs):
    return search.run(
        lambda a: 0.5, SPACE, "random", max_trials=max_trials, directory=str(directory), **kwargs
    )


def _state(directory):
    with open(os.path.join(directory, "search", "nas_state.json")) as f:
        return json.load(f)


def test_a_resume_with_another_recipe_is_refused_and_the_same_one_resumes(tmp_path):
    recipe = {"child": {"epochs": 1, "filters": (4, 8)}, "dataset": "d"}
    _run(tmp_path, 2, recipe=recipe)
    assert _state(tmp_path)["recipe"] == {"child": {"epochs": 1, "filters": [4, 8]}, "dataset": "d"}
    other = {"child": {"epochs": 2, "filters": (4, 8)}, "dataset": "d"}
    with pytest.raises(ValueError, match=r"child\.epochs: 1 saved, 2 now\. Its rewards would not"):
        _run(tmp_path, 3, recipe=other)
    assert len(_run(tmp_path, 3, recipe=recipe)) == 3  # tuples saved as lists still match


def test_a_state_saved_without_a_recipe_resumes_under_one(tmp_path):
    _run(tmp_path, 1)
    assert _state(tmp_path)["recipe"] is None
    assert len(_run(tmp_path, 2, recipe={"dataset": "d"})) == 2
    assert _state(tmp_path)["recipe"] == {"dataset": "d"}


def test_a_recipe_must_be_a_json_ready_dict(tmp_path):
    with pytest.raises(TypeError, match="`recipe` must be a dict"):
        _run(tmp_path, 1, recipe=["epochs", 1])
    with pytest.raises(TypeError, match="`recipe` must be JSON-ready"):
        _run(tmp_path / "other", 1, recipe={"data": object()})


def test_the_difference_names_every_changed_entry():
    saved = {"a": 1, "b": {"c": 2, "d": 3}, "e": None}
    current = {"a": 1, "b": {"c": 2, "d": 4}, "f": 5}
    assert recipe_difference(saved, current) == (
        "b.d: 3 saved, 4 now; e: None saved, none now; f: none saved, 5 now"
    )


def test_a_cli_search_resumed_with_other_child_flags_is_refused_in_one_line(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = [
        "search",
        "--dataset",
        "fashion_mnist_sample",
        "--directory",
        "run",
        *TINY_CHILD_SEARCH,
    ]
    assert cli.main([*argv, "--epoch-examples", "64", "--max-trials", "1"]) == 0
    recipe = _state("run")["recipe"]
    assert recipe["dataset"] == "fashion_mnist_sample" and recipe["child_params"] is None
    assert recipe["child"]["epoch_examples"] == 64 and recipe["child"]["filters"] == 4
    assert cli.main([*argv, "--epoch-examples", "96", "--max-trials", "2"]) != 0
    error = only_error_line(capsys)
    assert "child.epoch_examples: 64 saved, 96 now" in error
    trials = [n for n in os.listdir(os.path.join("run", "search")) if n.startswith("trial_")]
    assert len(trials) == 1  # the refused run trained nothing
    assert cli.main([*argv, "--epoch-examples", "64", "--max-trials", "2"]) == 0
    trials = [n for n in os.listdir(os.path.join("run", "search")) if n.startswith("trial_")]
    assert len(trials) == 2
