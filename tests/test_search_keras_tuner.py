"""NASOracle inside keras-tuner workflows: stock Tuner, threads, and write failures."""

import errno
import logging
import os
import threading
import time

import keras
import keras_tuner
import numpy as np
import pytest

from keras_nasnet import NASNetModel, search
from keras_nasnet.search import NASOracle, SearchSpace, monitors
from keras_nasnet.search.oracles import base as oracle_module
from keras_nasnet.search.run import open_project

SPACE = SearchSpace(num_blocks=1, ops=("identity", "sep_conv_3x3", "max_pool_3x3"))


class UserHyperModel(keras_tuner.HyperModel):
    """What a keras-tuner user writes: the cell from the oracle's decisions, and a learning rate."""

    def build(self, hp):
        SPACE.declare(hp)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
        architecture = SPACE.from_values(hp.values)
        model = NASNetModel(
            architecture,
            filters=4,
            num_blocks=1,
            stem="cifar",
            skip_reduction=False,
            input_shape=(8, 8, 1),
            classes=2,
            seed=0,
        )
        model.compile(
            keras.optimizers.SGD(learning_rate),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model


def test_stock_tuner_projects_with_keras_tuner_names_share_a_directory(
    tmp_path, caplog, monkeypatch
):
    from keras_nasnet.search import report

    # The report's mult-adds column builds a model per architecture: not what this test is about.
    monkeypatch.setattr(report, "count_architecture_mult_adds", lambda architecture: 1)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, 16)
    tuners = {}
    with caplog.at_level(logging.WARNING):
        for name in ("untitled_project", "my_search"):
            oracle = NASOracle(
                SPACE,
                "ppo",
                objective="val_accuracy",
                max_trials=2,
                seed=0,
                monitors=monitors.default_monitors(),
            )
            tuner = keras_tuner.Tuner(
                oracle=oracle,
                hypermodel=UserHyperModel(),
                directory=str(tmp_path),
                project_name=name,
            )
            tuner.search(x, y, validation_data=(x, y), epochs=1, batch_size=16, verbose=0)
            tuners[name] = tuner
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    for name, tuner in tuners.items():
        project = tmp_path / name
        assert (project / "report.html").is_file(), name
        assert sorted(os.listdir(project / "tensorboard" / "trials")) == ["0", "1"]
        rates = [t.hyperparameters.values["learning_rate"] for t in tuner.oracle.trials.values()]
        assert len(set(rates)) == 2 and all(1e-4 <= r <= 1e-1 for r in rates), rates
        assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
        assert tuner.oracle.learner.num_rewards == 2  # the controller learned from both
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "tensorboard").exists()
    # Seeded: the same oracle seed draws the same learning rates in both projects.
    rates = {
        name: [t.hyperparameters.values["learning_rate"] for t in tuner.oracle.trials.values()]
        for name, tuner in tuners.items()
    }
    assert rates["my_search"] == rates["untitled_project"]
    # `keras-nasnet report DIR` on the keras-tuner directory draws both projects side by side.
    assert [os.path.basename(r) for r in report.find_runs(str(tmp_path))] == [
        "my_search",
        "untitled_project",
    ]


def test_extra_hyperparameters_can_be_pinned_or_left_at_their_defaults(tmp_path):
    def values(tune_new_entries, declare):
        oracle = NASOracle(
            SPACE,
            "random",
            objective=keras_tuner.Objective("reward", "max"),
            max_trials=3,
            tune_new_entries=tune_new_entries,
        )
        hp = oracle.get_space()
        declare(hp)
        oracle.update_space(hp)
        open_project(oracle, str(tmp_path / str(len(os.listdir(tmp_path)))), overwrite=True)
        # What the hypermodel's build gets back when it declares the learning rate in a trial.
        return [declare(oracle.create_trial(f"t{i}").hyperparameters) for i in range(3)]

    assert values(True, lambda hp: hp.Fixed("learning_rate", 0.02)) == [0.02] * 3
    declared = lambda hp: hp.Float("learning_rate", 1e-4, 1e-1, default=0.05)  # noqa: E731
    assert values(False, declared) == [0.05] * 3
    assert len(set(values(True, lambda hp: hp.Float("learning_rate", 1e-4, 1e-1)))) == 3


def oracle_for(tmp_path, **kwargs):
    oracle = NASOracle(
        SPACE, "random", objective=keras_tuner.Objective("reward", "max"), max_trials=10, **kwargs
    )
    oracle.verbose = 0
    open_project(oracle, str(tmp_path), overwrite=True)
    return oracle


def end(oracle, trial, reward=0.5):
    oracle.update_trial(trial.trial_id, {"reward": reward})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_a_slow_monitor_does_not_delay_another_workers_request(tmp_path):
    started, calls = threading.Event(), []

    def slow(oracle, final):
        started.set()
        time.sleep(2.0)
        calls.append(final)

    oracle = oracle_for(tmp_path, monitors=[slow])
    trial = oracle.create_trial("worker-a")
    ending = threading.Thread(target=end, args=(oracle, trial))
    ending.start()
    assert started.wait(10)
    start = time.perf_counter()
    other = oracle.create_trial("worker-b")
    waited = time.perf_counter() - start
    ending.join()
    assert other.status == "RUNNING" and other.trial_id != trial.trial_id
    assert waited < 0.5, f"create_trial waited {waited:.2f} s for a monitor"
    assert calls == [False]


def test_a_failing_end_trial_releases_the_oracles_lock(tmp_path, monkeypatch):
    oracle = oracle_for(tmp_path)
    trial = oracle.create_trial("worker-a")
    real_write = oracle_module.atomic_write

    def full_disk(path, data):
        if path.endswith("oracle.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, data)

    monkeypatch.setattr(oracle_module, "atomic_write", full_disk)
    failure = []

    def ending():
        try:
            end(oracle, trial)
        except OSError as error:
            failure.append(error)

    worker_a = threading.Thread(target=ending)  # a chief answers each worker on its own thread
    worker_a.start()
    worker_a.join(10)
    monkeypatch.setattr(oracle_module, "atomic_write", real_write)
    assert len(failure) == 1 and "oracle.json" in str(failure[0])
    answers = []
    worker_b = threading.Thread(target=lambda: answers.append(oracle.create_trial("worker-b")))
    worker_b.start()
    worker_b.join(10)
    assert answers and answers[0].status == "RUNNING", "the next request waited for a lock"
    assert trial.trial_id in oracle.end_order and "worker-a" not in oracle.ongoing_trials


@pytest.mark.parametrize(
    "failing", ["trial.json", "nas_state.json", "oracle.json", "controller-000002.npz"]
)
def test_a_trial_whose_end_was_not_fully_written_is_not_trained_again(
    tmp_path, monkeypatch, failing
):
    # ENOSPC while trial 3 (id "3") ends, then a resume: each trial is evaluated exactly once.
    evaluated = []

    def evaluate(architecture):
        evaluated.append(architecture)
        return float(len(evaluated)) / 10

    real_write = oracle_module.atomic_write
    armed = {"on": False, "fired": 0}

    def write(path, data):
        ending = not path.endswith("trial.json") or b'"status": "COMPLETED"' in data
        if armed["on"] and ending and os.path.basename(path) == failing and not armed["fired"]:
            armed["fired"] += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(path, data)

    def armed_evaluate(architecture):
        armed["on"] = len(evaluated) == 3
        return evaluate(architecture)

    monkeypatch.setattr(oracle_module, "atomic_write", write)
    kwargs = dict(
        space=SPACE,
        algorithm="reinforce",
        max_trials=6,
        seed=0,
        update_every=2,
        directory=str(tmp_path),
    )
    with pytest.raises(oracle_module.StateWriteError) as error:
        search.run(armed_evaluate, **kwargs)
    assert armed["fired"] == 1 and failing in str(error.value) and "resume" in str(error.value)
    assert len(evaluated) == 4
    monkeypatch.setattr(oracle_module, "atomic_write", real_write)

    history = search.run(evaluate, **kwargs)
    assert len(evaluated) == 6 and len(history) == 6
    assert history.statuses.count("COMPLETED") == (5 if failing == "trial.json" else 6)
    if failing != "trial.json":
        assert history.rewards[3] == pytest.approx(0.4)  # learned from, once, after the resume
    else:
        assert history.statuses[3] == "FAILED"  # its result never reached the disk
