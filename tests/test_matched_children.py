"""Children at matched parameters (`search --child-params`, `NASNetHyperModel(params_target=)`):
each child built at the F whose parameter count is closest to a target, as `compare` matches
cells; the flag's refusals; a CLI search that records each child's F."""

import json
import os

import keras_tuner
import numpy as np
import pytest

from keras_nasnet import cli, training
from keras_nasnet.cli.search import child_params
from keras_nasnet.compare.matching import model_counter
from keras_nasnet.genotypes import NASNET_A, Architecture
from keras_nasnet.search.evaluators.child import CHILD_SETTINGS, FILTERS_METRIC, NASNetHyperModel
from keras_nasnet.search.spaces.nasnet_cells import SearchSpace
from tests.helpers import TINY_CHILD_SEARCH, only_error_line

SHAPE, CLASSES = (28, 28, 1), 10
SETTINGS = training.TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32)
SPACE = SearchSpace(ops=("sep_conv_7x7", "identity"), num_blocks=1, combines=("add",))
BASE = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def _values(op: str) -> keras_tuner.HyperParameters:
    # Every decision of SPACE's one-block cells set to `op` (inputs and combine as drawn).
    hp = SPACE.hyperparameters()
    for decision in SPACE.decisions:
        if op in decision.choices:
            hp.values[decision.name] = op
    return hp


def test_each_child_is_built_at_the_f_matching_the_target_and_reports_it():
    count = model_counter(SHAPE, CLASSES, SETTINGS)
    target = count(NASNET_A, 6)[0]
    hypermodel = NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS, params_target=target)
    widths = {}
    for op in ("sep_conv_7x7", "identity"):
        hp = _values(op)
        architecture = hypermodel.architecture(hp)
        assert isinstance(architecture, Architecture)
        widths[op] = hypermodel.filters(architecture)
        params = count(architecture, widths[op])[0]
        assert abs(params - target) <= 0.25 * target
        built = hypermodel.build(hp).count_params()
        at_f = training.build_model(
            architecture, SHAPE, CLASSES, SETTINGS.replace(filters=widths[op]), 1
        )
        assert built == at_f.count_params()
    # Parameter-free identity ops: a wider child than the 7x7 separable convolutions'.
    assert widths["identity"] > widths["sep_conv_7x7"]
    unmatched = NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS)
    assert unmatched.filters(architecture) == 4 and unmatched.params_target is None


def test_a_child_no_f_can_match_fails_its_trial_only():
    hypermodel = NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS, params_target=10)
    with pytest.raises(keras_tuner.errors.FailedTrialError, match="within 25% of the target 10"):
        hypermodel.build(_values("identity"))
    with pytest.raises(ValueError, match="params_target"):
        NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS, params_target=0)


def test_the_flag_parses_a_count_or_an_architecture_and_is_refused_where_it_cannot_apply(
    capsys,
):
    assert child_params("120000") == 120000 and child_params("nasnet_a") == "nasnet_a"
    with pytest.raises(ValueError, match="count >= 1"):
        child_params("0")
    for extra, expected in (
        (
            ["--evaluation", "proxy:naswot"],
            "--child-params sets the size of trained children; --evaluation proxy:naswot "
            "trains none.",
        ),
        (["--evaluation", "shared"], "--child-params does not apply to --evaluation shared"),
        (["--space", "macro"], "--child-params does not apply to --space macro"),
    ):
        assert cli.main([*BASE, "--child-params", "nasnet_a", *extra]) == 2
        assert f"keras-nasnet: error: {expected}" in only_error_line(capsys)
    assert not os.path.exists("somewhere")


def test_the_library_refuses_child_params_with_a_proxy_and_an_unknown_name():
    from keras_nasnet.search.pipeline import search_dataset

    with pytest.raises(ValueError, match="evaluation 'proxy:naswot' trains none"):
        search_dataset("fashion_mnist_sample", "d", child_params=1000, evaluation="proxy:naswot")
    with pytest.raises(ValueError, match="Unknown architecture 'nasnet_z'"):
        search_dataset("fashion_mnist_sample", "d", child_params="nasnet_z", max_trials=1)


def test_a_cli_search_records_each_child_s_matched_f(capsys):
    argv = [
        *BASE,
        "--ops",
        "sep_conv_7x7,identity",
        "--combines",
        "add",
        *TINY_CHILD_SEARCH,
        "--epoch-examples",
        "64",
        "--max-trials",
        "2",
        "--child-params",
        "nasnet_a",
    ]
    assert cli.main(argv) == 0
    child = CHILD_SETTINGS.replace(
        num_blocks=1, filters=4, batch_size=32, epochs=1, epoch_examples=64
    )
    count = model_counter(SHAPE, CLASSES, child)
    target = count(NASNET_A, 4)[0]
    trials = []
    for root, _, files in os.walk("somewhere"):
        if "trial.json" in files:
            with open(os.path.join(root, "trial.json")) as f:
                trials.append(json.load(f))
    assert len(trials) == 2
    for trial in trials:
        assert trial["status"] == "COMPLETED"
        architecture = SPACE.from_values(trial["hyperparameters"]["values"])
        metrics = trial["metrics"]["metrics"]
        filters = int(metrics[FILTERS_METRIC]["observations"][0]["value"][0])
        # The closest F to NASNet-A's child's count, as compare matches.
        miss = {
            f: abs(count(architecture, f)[0] - target) for f in (filters - 1, filters, filters + 1)
        }
        assert min(miss, key=miss.get) == filters


def test_a_prefilter_scores_each_child_at_the_f_it_will_train_at():
    from keras_nasnet.search.evaluators import proxies
    from keras_nasnet.search.evaluators.evaluation import ProxyScorer

    images = np.zeros((4, *SHAPE), np.uint8)
    labels = np.arange(4)
    target = model_counter(SHAPE, CLASSES, SETTINGS)(NASNET_A, 6)[0]
    hypermodel = NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS, params_target=target)
    scorer = ProxyScorer("params", images, labels, CLASSES, SETTINGS, filters=hypermodel.filters)
    fixed = ProxyScorer("params", images, labels, CLASSES, SETTINGS)
    for op in ("sep_conv_7x7", "identity"):
        architecture = hypermodel.architecture(_values(op))
        at_f = SETTINGS.replace(filters=hypermodel.filters(architecture))
        expected = proxies.params(architecture, images, labels, classes=CLASSES, settings=at_f)
        assert scorer(architecture) == expected
        assert abs(expected - target) <= 0.25 * target
    assert fixed(architecture) != scorer(architecture)  # identity cells: wider when matched
    unmatched = NASNetHyperModel(SPACE, SHAPE, CLASSES, SETTINGS, params_target=10)
    tiny = ProxyScorer("params", images, labels, CLASSES, SETTINGS, filters=unmatched.filters)
    assert tiny(architecture) == -np.inf  # ranks last instead of failing the prefilter
