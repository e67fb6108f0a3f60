"""`keras-nasnet search --fidelity MIN:MAX`: the flags and their refusals, a promoted child that
continues its parent's training (weights and optimizer state), a resumed search that trains no
finished rung again, and the report's fidelity view (cells per fidelity, Kendall's tau between
adjacent rungs) on hand-made trials."""

import json
import os
import re
from types import SimpleNamespace

import keras_tuner
import numpy as np
import pytest

from keras_nasnet import cli
from keras_nasnet.cli.search import bracket_count, fidelity_range
from keras_nasnet.search.evaluators.child import (
    FIDELITY_EPOCHS,
    FIDELITY_INITIAL_EPOCH,
    FIDELITY_PARENT,
    NASNetHyperModel,
    NASTuner,
)
from keras_nasnet.search.evaluators.fidelities import hyperband
from keras_nasnet.search.oracles import multi_fidelity
from keras_nasnet.search.reporting.fidelity_view import (
    FidelityCount,
    RankAgreement,
    fidelity_counts,
    fidelity_html,
    fidelity_markdown,
    kendall_tau,
    multi_fidelity_state,
    rank_agreements,
    trial_fidelities,
)
from tests.helpers import only_error_line

BASE = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
# The smallest cell search that trains: 1 block of 2 ops, N = 1, F = 4, 2 steps of 32 per epoch.
TINY = [
    "--ops",
    "sep_conv_3x3,identity",
    "--combines",
    "add",
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
    "--algorithm",
    "evolution",
    "--no-final",
]


@pytest.fixture(autouse=True)
def in_a_fresh_folder(tmp_path, monkeypatch):
    # The commands hold "somewhere" (a relative --directory) while they run.
    monkeypatch.chdir(tmp_path)


# -- the flags ------------------------------------------------------------------------------


def test_fidelity_and_brackets_values_parse_and_bad_ones_are_named():
    assert fidelity_range("1:3") == (1, 3)
    assert fidelity_range("2:2") == (2, 2)
    for bad in ("3", "1-3", "a:3", "0:3", "3:1", "1:3:9", "-1:3"):
        with pytest.raises(ValueError, match="MIN"):
            fidelity_range(bad)
    assert bracket_count("all") is None and bracket_count("2") == 2
    for bad in ("0", "two", "-1"):
        with pytest.raises(ValueError, match="'all'"):
            bracket_count(bad)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (
            ["--fidelity", "1:3", "--epochs", "2"],
            "--epochs does not apply to a multi-fidelity search (each child trains from MIN "
            "to MAX epochs as --fidelity sets); leave it out.",
        ),
        (
            ["--fidelity", "1:3", "--evaluation", "proxy:naswot"],
            "--fidelity sets how long each child trains; --evaluation proxy:naswot trains no "
            "child.",
        ),
        (
            ["--fidelity", "1:3", "--evaluation", "shared"],
            "--fidelity sets how long each child trains; --evaluation shared trains no child.",
        ),
        (
            ["--fidelity", "1:3", "--space", "macro"],
            "--fidelity applies to --space nasnet only; --space macro trains every trial with "
            "--epochs.",
        ),
        (
            ["--eta", "2"],
            "--eta applies to a multi-fidelity search only (--fidelity MIN:MAX); leave it out "
            "or add --fidelity.",
        ),
        (
            ["--brackets", "all"],
            "--brackets applies to a multi-fidelity search only (--fidelity MIN:MAX); leave it "
            "out or add --fidelity.",
        ),
    ],
)
def test_flags_that_do_not_fit_fidelity_are_refused_in_one_line(extra, expected, capsys):
    assert cli.main([*BASE, *extra]) == 2
    assert f"keras-nasnet: error: {expected}" in only_error_line(capsys)
    assert not os.path.exists("somewhere")


def test_the_library_refuses_fidelity_with_an_evaluation_that_trains_no_child():
    from keras_nasnet.search.pipeline import search_dataset

    with pytest.raises(ValueError, match="evaluation 'proxy:naswot' trains none"):
        search_dataset("fashion_mnist_sample", "d", fidelity=(1, 3), evaluation="proxy:naswot")
    with pytest.raises(ValueError, match="`max_fidelity` must be an int >= 3; received 1"):
        search_dataset("fashion_mnist_sample", "d", fidelity=(3, 1))
    with pytest.raises(TypeError, match="two ints"):
        search_dataset("fashion_mnist_sample", "d", fidelity=3)


def test_the_cli_oracle_settings_reach_the_proposer():
    from keras_nasnet.search.pipeline import _multi_fidelity_oracle
    from keras_nasnet.search.spaces.nasnet_cells import SearchSpace

    space = SearchSpace(ops=("sep_conv_3x3", "identity"), num_blocks=1, combines=("add",))
    common = {"space": space, "max_trials": 8, "seed": 0, "objective": "val_accuracy"}
    given = {"preset": "budget", "update_every": 2, "learning_rate": 0.01, "worker_timeout": 9.0}
    oracle = _multi_fidelity_oracle("ppo", (1, 9), 3, None, common, given)
    assert isinstance(oracle, multi_fidelity.NASSuccessiveHalvingOracle)
    assert oracle.algorithm == "successive-halving/ppo"
    assert oracle.settings["update_every"] == 2 and oracle.settings["learning_rate"] == 0.01
    assert oracle.worker_timeout == 9.0
    assert len(oracle.schedule.brackets) == 3  # brackets None: Hyperband's s = 2, 1, 0
    # The cell space is what the state records, so the report can rebuild architectures.
    assert oracle.space_config() == space.get_config()


def test_the_tuners_fidelity_names_are_the_oracles():
    assert (FIDELITY_EPOCHS, FIDELITY_INITIAL_EPOCH, FIDELITY_PARENT) == (
        multi_fidelity.EPOCHS,
        multi_fidelity.INITIAL_EPOCH,
        multi_fidelity.PARENT_TRIAL,
    )


def _fake_tuner(epochs, checkpoint="missing.weights.h5"):
    # What NASTuner._fidelity reads of its tuner: the recipe's epochs and checkpoint paths.
    return SimpleNamespace(
        hypermodel=SimpleNamespace(settings=SimpleNamespace(epochs=epochs)),
        _get_checkpoint_fname=lambda trial_id: f"{trial_id}-{checkpoint}",
    )


def test_the_tuner_reads_the_fidelity_of_a_trial_and_refuses_one_beyond_its_schedule(caplog):
    def fidelity(epochs, values):
        return NASTuner._fidelity(_fake_tuner(epochs), SimpleNamespace(values=values), None, None)

    assert fidelity(5, {"op": "x"}) == (5, 0)  # one fidelity: the recipe's epochs
    assert fidelity(9, {FIDELITY_EPOCHS: 3, FIDELITY_INITIAL_EPOCH: 0}) == (3, 0)
    # A parent whose checkpoint is gone: this fidelity from scratch, said in the log.
    promoted = {FIDELITY_EPOCHS: 9, FIDELITY_INITIAL_EPOCH: 3, FIDELITY_PARENT: "7"}
    assert fidelity(9, promoted) == (9, 0)
    assert "trial 7's checkpoint 7-missing.weights.h5 is missing" in caplog.text
    with pytest.raises(keras_tuner.errors.FatalValueError, match="settings.epochs \\(3\\)"):
        fidelity(3, {FIDELITY_EPOCHS: 9})


# -- a search from the command line, interrupted and resumed -----------------------------------


def _record_training(monkeypatch):
    """Records, per trial, the state each checkpoint saved (and the order trials were
    trained in) and, per promoted trial, the model as `fit` receives it."""
    saved, started, trained = {}, {}, []

    def save_model(tuner, trial_id, model, step=0):
        trained.append(trial_id)
        saved[trial_id] = {
            "weights": [w.copy() for w in model.get_weights()],
            "optimizer": [np.array(v) for v in model.optimizer.variables],
        }
        return original_save(tuner, trial_id, model, step)

    def fit(hypermodel, hp, model, *args, **kwargs):
        parent = hp.values.get(FIDELITY_PARENT)
        if parent is not None:
            started[parent] = {
                "epochs": kwargs["epochs"],
                "initial_epoch": hp.values[FIDELITY_INITIAL_EPOCH],
                "weights": [w.copy() for w in model.get_weights()],
                "optimizer": [np.array(v) for v in model.optimizer.variables],
                "iterations": int(model.optimizer.iterations.numpy()),
            }
        return original_fit(hypermodel, hp, model, *args, **kwargs)

    original_save, original_fit = NASTuner.save_model, NASNetHyperModel.fit
    monkeypatch.setattr(NASTuner, "save_model", save_model)
    monkeypatch.setattr(NASNetHyperModel, "fit", fit)
    return saved, started, trained


def _same_arrays(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_cli_search_promotes_continues_and_resumes_without_retraining(monkeypatch, capsys):
    # --fidelity 1:3 --eta 3: one bracket, 3 candidates for 1 epoch, the best for 3.
    saved, started, trained = _record_training(monkeypatch)
    argv = [*BASE, *TINY, "--fidelity", "1:3", "--eta", "3"]
    assert cli.main([*argv, "--max-trials", "2"]) == 0  # stopped after 2 trials of 4
    assert trained == ["0", "1"] and not started
    with open(os.path.join("somewhere", "best_fidelity.json")) as f:
        assert json.load(f)["fidelity"] == 1  # only the first rung ran

    assert cli.main([*argv, "--max-trials", "4"]) == 0
    # Resumed: the finished trials are not trained again; the third candidate and the
    # promotion of the best of the three are.
    assert trained == ["0", "1", "2", "3"]
    (parent,) = started
    start = started[parent]
    assert start["initial_epoch"] == 1 and start["epochs"] == 2  # from epoch 1 to 3
    # The promoted child starts from its parent's checkpoint: weights (drop-path steps and
    # BN statistics included) and optimizer state (step count, momentum).
    assert _same_arrays(start["weights"], saved[parent]["weights"])
    assert _same_arrays(start["optimizer"], saved[parent]["optimizer"])
    # The optimizer goes on from the parent's 2 steps (1 epoch of 64 examples in 32s), so
    # the cosine decay over 3 epochs continues where it stopped.
    assert start["iterations"] == 2
    assert int(saved["3"]["optimizer"][0]) == 6  # 3 epochs of 2 steps, as straight through

    with open(os.path.join("somewhere", "best_fidelity.json")) as f:
        best = json.load(f)
    assert best["fidelity"] == 3 and best["max_fidelity"] == 3 and best["rung"] == 1
    assert best["trial_ids"] == [parent, "3"] and best["result_trial_id"] == "3"
    with open(os.path.join("somewhere", "search", "trial_3", "trial.json")) as f:
        metrics = json.load(f)["metrics"]["metrics"]
    assert metrics["initial_epoch"]["observations"][-1]["value"] == [1.0]
    with open(os.path.join("somewhere", "report.md")) as f:
        report = f.read()
    assert "| 1 | 3 |" in report and "| 3 | 1 |" in report  # cells per fidelity
    assert "| 0 | 1 | 1 -> 3 | 1 |  |" in report  # one cell in both rungs: no tau
    assert f"- best candidate: trials {parent} -> 3, its result at fidelity 3 (of 3" in report
    with open(os.path.join("somewhere", "report.html")) as f:
        page = f.read()
    assert 'id="fidelities-0"' in page and 'id="agreement-0"' in page
    # The top table ranks by the fidelity reached first: the promoted trial leads, whatever
    # the rewards after one epoch were.
    header = re.search(r'<table id="top">\s*<tr>(.*?)</tr>', page, re.S).group(1)
    assert "fidelity (epochs)" in header
    first_row = re.search(r'<table id="top">.*?</tr>\n<tr>(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", first_row, re.S)
    assert cells[2] == "3" and cells[4] == "3"
    out = capsys.readouterr().out
    assert "successive-halving/evolution" in out and "3@1 -> 1@3" in out

    # The same directory without --fidelity is another search: refused, both named.
    assert cli.main([*BASE, *TINY]) == 2
    line = only_error_line(capsys)
    assert "'successive-halving/evolution' search" in line and "'evolution' search" in line


# -- the report's fidelity view --------------------------------------------------------------


def test_kendall_tau_by_hand():
    # One discordant pair of 6: (6 - 2 * 1) / 6.
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # Ties: S = 4 over 6 pairs, 5 untied in x and 5 in y: tau-b = 4 / sqrt(5 * 5).
    assert kendall_tau([1, 2, 2, 3], [1, 2, 3, 3]) == pytest.approx(0.8)
    assert kendall_tau([1], [2]) is None and kendall_tau([], []) is None
    assert kendall_tau([1, 1, 1], [1, 2, 3]) is None  # x all tied: undefined
    with pytest.raises(ValueError, match="one length; received 2 and 1"):
        kendall_tau([1, 2], [1])


def test_kendall_tau_is_scipys_tau_b():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 12).tolist(), rng.integers(0, 4, 12).tolist()
    assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def _hand_made_state():
    # hyperband(1, 9, 3): s=2: 9@1 -> 3@3 -> 1@9; s=1: 5@3 -> 1@9; s=0: 3@9.
    schedule = hyperband(1, 9, 3).get_config()
    first = [{"id": str(k), "parent": None} for k in range(9)]
    rewards = {str(k): 0.1 * k for k in range(9)}
    rewards["0"] = None  # failed: no result at fidelity 1
    second = [{"id": f"p{k}", "parent": str(k)} for k in (8, 7, 6)]
    # Rung 1 orders 8, 7, 6 as 0.85, 0.95, 0.75: pairs (8, 7) discordant, the others
    # concordant: tau = (2 - 1) / 3.
    rewards.update({"p8": 0.85, "p7": 0.95, "p6": 0.75, "q7": 0.97})
    third = [{"id": "q7", "parent": "p7"}]
    other = [{"id": f"b{k}", "parent": None} for k in range(2)]  # bracket s=1, just started
    rewards.update({"b0": 0.5, "b1": None})
    return {
        "rewards": rewards,
        "multi_fidelity": {
            "schedule": schedule,
            "brackets": [
                {"index": 0, "rungs": [first, second, third]},
                {"index": 1, "rungs": [other, []]},
            ],
        },
    }


def test_cells_per_fidelity_and_rank_agreement_on_hand_made_trials():
    state = multi_fidelity_state(_hand_made_state())
    assert fidelity_counts(state) == [
        FidelityCount(1, 8),  # 9 trained, one failed
        FidelityCount(3, 4),  # 3 promoted + 1 of the second bracket (the other failed)
        FidelityCount(9, 1),
    ]
    assert trial_fidelities(state)["q7"] == 9 and trial_fidelities(state)["b1"] == 3
    assert rank_agreements(state) == [
        RankAgreement(0, 2, 0, 1, 3, 3, pytest.approx(1 / 3)),
        RankAgreement(0, 2, 1, 3, 9, 1, None),
        RankAgreement(1, 1, 0, 3, 9, 0, None),
    ]
    lines = fidelity_markdown(state)
    assert "| 1 | 8 |" in lines and "| 9 | 1 |" in lines
    assert "| 0 | 2 | 1 -> 3 | 3 | 0.33 |" in lines
    assert "| 1 | 1 | 3 -> 9 | 0 |  |" in lines
    page = fidelity_html(state, "run <a>", index=1)
    assert "run &lt;a&gt;" in page and 'id="agreement-1"' in page and "<td>0.33</td>" in page


def test_a_single_fidelity_state_has_no_fidelity_view():
    assert multi_fidelity_state({"rewards": {"0": 0.5}, "algorithm": "ppo"}) is None
    assert multi_fidelity_state(object()) is None


@pytest.mark.slow
def test_a_search_killed_during_a_promotion_resumes_with_that_promotion_alone(monkeypatch):
    # About 30 s: a subprocess trains the first rung and is killed (SIGKILL) while the
    # promoted child trains; the resumed search trains that child again, nothing else.
    import signal
    import subprocess
    import sys

    argv = [*BASE, *TINY, "--fidelity", "1:3", "--max-trials", "4"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_nasnet.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        for line in process.stdout:
            if line.startswith("trial 2 "):  # the first rung is over: trial 3 is the promotion
                break
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=60)
    assert not os.path.exists(os.path.join("somewhere", "best_fidelity.json"))

    saved, started, trained = _record_training(monkeypatch)
    assert cli.main(argv) == 0
    assert trained == ["3"]  # the finished first rung is not trained again
    (parent,) = started
    assert started[parent]["iterations"] == 2  # continued from the parent's checkpoint
    with open(os.path.join("somewhere", "best_fidelity.json")) as f:
        assert json.load(f)["trial_ids"] == [parent, "3"]
