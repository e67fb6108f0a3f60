"""The weight-sharing supernet (ENAS) and its search loop, on tiny supernets."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_nasnet import search
from keras_nasnet.search.enas import EnasSearch, SharedSettings, SharedTrainer
from keras_nasnet.search.enas.loop import read_state
from keras_nasnet.search.space import SearchSpace
from keras_nasnet.search.supernet import (
    ENAS_OPS,
    Supernet,
    check_shareable,
    copy_to_standalone,
    enas_space,
)

from .helpers import run_script_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = SearchSpace(
    ops=("sep_conv_3x3", "avg_pool_3x3", "identity"), num_blocks=2, combines=("add",)
)
# The smallest space that still has a conv, a parameter-free op and a choice of inputs: its
# traced steps take seconds, not minutes (every (input, op) branch is traced once).
SMALLEST = SearchSpace(ops=("sep_conv_3x3", "identity"), num_blocks=1, combines=("add",))


@pytest.fixture(scope="module")
def tiny_net():
    return Supernet(TINY, input_shape=(12, 12, 1), classes=3, filters=4, num_cells=1, seed=1)


def test_enas_space_is_the_papers():
    space = enas_space()
    assert space.ops == ENAS_OPS and space.num_blocks == 5 and space.combines == ("add",)
    assert check_shareable(space) is space


@pytest.mark.parametrize("trial", range(4))
def test_supernet_output_equals_the_standalone_model_with_copied_weights(tiny_net, trial):
    # Random architectures cover the awkward wiring: unused reduction inputs (halved before
    # the concat), one or several unused states, and an older input exactly F wide that the
    # stand-alone cell takes unprojected.
    rng = np.random.default_rng(trial)
    images = rng.normal(size=(4, 12, 12, 1)).astype("float32")
    indices = TINY.sample_uniform(rng)
    tiny_net.set_architecture(indices)
    model = tiny_net.standalone(TINY.decode(indices))
    copy_to_standalone(tiny_net, model, indices)
    # Batch statistics, as during search (the shared ops keep no moving statistics).
    expected = np.asarray(model(images, training=True))
    np.testing.assert_allclose(np.asarray(tiny_net(images, training=True)), expected, atol=1e-5)


def test_computing_all_ops_gives_the_switchs_output(tiny_net):
    every_op = Supernet(
        TINY, input_shape=(12, 12, 1), classes=3, filters=4, seed=1, compute_all_ops=True
    )
    every_op.set_weights(tiny_net.get_weights())
    rng = np.random.default_rng(11)
    images = rng.normal(size=(4, 12, 12, 1)).astype("float32")
    for _ in range(3):
        indices = np.asarray(TINY.sample_uniform(rng), "int32")
        np.testing.assert_allclose(
            np.asarray(every_op(images, architecture=indices, training=True)),
            np.asarray(tiny_net(images, architecture=indices, training=True)),
            atol=1e-5,
        )


def test_the_chosen_op_steps_gradient_equals_that_of_every_op():
    # The switch's custom gradient (the chosen op run again under its own tape) must be the
    # gradient of computing every op and keeping the chosen one, for every variable. Two blocks:
    # a reduction cell's operands then read inputs of two shapes (two groups).
    import tensorflow as tf

    space = SearchSpace(ops=("sep_conv_3x3", "identity"), num_blocks=2, combines=("add",))
    net = Supernet(space, input_shape=(8, 8, 1), classes=3, filters=4, seed=2)
    rng = np.random.default_rng(12)
    images = rng.normal(size=(6, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 3, 6)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = net.trainable_variables

    def gradients(compute_all_ops):
        @tf.function
        def step(indices):
            with tf.GradientTape() as tape:
                logits = net(
                    images, architecture=indices, training=True, compute_all_ops=compute_all_ops
                )
                value = loss(labels, logits)
            grads = tape.gradient(value, variables)
            return value, [
                tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                for g, v in zip(grads, variables)
            ]

        return step

    every_op, chosen_op = gradients(True), gradients(False)
    moved = 0
    for _ in range(4):
        indices = tf.constant(space.sample_uniform(rng), tf.int32)
        expected_loss, expected = every_op(indices)
        got_loss, got = chosen_op(indices)
        np.testing.assert_allclose(float(got_loss), float(expected_loss), rtol=1e-6)
        for variable, a, b in zip(variables, expected, got):
            np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-5, err_msg=variable.path)
            moved += bool(np.any(a.numpy()))
    assert moved > len(variables)  # most variables got a non-zero gradient at least once


def test_architecture_tensor_overrides_the_variable(tiny_net):
    rng = np.random.default_rng(7)
    images = rng.normal(size=(2, 12, 12, 1)).astype("float32")
    first, second = TINY.sample_uniform(rng), TINY.sample_uniform(rng)
    tiny_net.set_architecture(first)
    by_variable = np.asarray(tiny_net(images, training=True))
    by_tensor = np.asarray(tiny_net(images, architecture=np.asarray(first, "int32"), training=True))
    np.testing.assert_allclose(by_tensor, by_variable, atol=1e-6)
    other = np.asarray(tiny_net(images, architecture=np.asarray(second, "int32"), training=True))
    assert not np.allclose(other, by_variable)


def test_copy_refuses_the_model_of_another_architecture(tiny_net):
    rng = np.random.default_rng(3)
    first = TINY.sample_uniform(rng)
    second = next(
        s
        for s in (TINY.sample_uniform(rng) for _ in range(50))
        if TINY.decode(s).normal.output_states() != TINY.decode(first).normal.output_states()
    )
    model = tiny_net.standalone(TINY.decode(second))
    with pytest.raises(ValueError, match="supernet"):
        copy_to_standalone(tiny_net, model, first)


def test_set_architecture_validates(tiny_net):
    with pytest.raises(ValueError, match="decision indices"):
        tiny_net.set_architecture([0, 1])


def test_concat_spaces_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="concat block is 2F wide or F wide"):
        Supernet(SearchSpace(ops=ENAS_OPS, num_blocks=2), input_shape=(12, 12, 1))


@pytest.mark.parametrize(
    "space, message",
    [
        (SearchSpace(ops=ENAS_OPS, num_blocks=2, combines=("add",), num_inputs=3), "2 inputs"),
        (SearchSpace(ops=ENAS_OPS, num_blocks=2, combines=("add",), output="all_states"), "out"),
    ],
)
def test_unsupported_spaces_are_refused(space, message):
    with pytest.raises(ValueError, match=message):
        check_shareable(space)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"filters": 0}, ValueError, "filters"),
        ({"num_cells": 1.5}, TypeError, "num_cells"),
        ({"input_shape": (28, 28)}, ValueError, "input_shape"),
        ({"input_shape": (4, 4, 1)}, ValueError, "at least 8x8"),
        ({"stem": "mobile"}, ValueError, "stem"),
        ({"space": "enas"}, TypeError, "SearchSpace"),
    ],
)
def test_bad_supernet_settings_are_refused(kwargs, error, message):
    kwargs = {"input_shape": (12, 12, 1), **kwargs}
    with pytest.raises(error, match=message):
        Supernet(**kwargs)


def test_bad_shared_settings_are_refused():
    with pytest.raises(ValueError, match="controller_steps"):
        SharedSettings(controller_steps=0)
    with pytest.raises(ValueError, match="algorithm"):
        SharedSettings(algorithm="evolution")


def _toy_data(n, seed, size=8):
    """Labels 0/1/2 by which third of the image is bright: a task every cell can learn."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n).astype("int32")
    images = rng.normal(scale=0.3, size=(n, size, size, 1)).astype("float32")
    for i, label in enumerate(labels):
        images[i, :, label * size // 3 : (label + 1) * size // 3] += 1.0
    return images, labels


@pytest.fixture(scope="module")
def smallest_trainer():
    net = Supernet(SMALLEST, input_shape=(8, 8, 1), classes=3, filters=4, num_cells=1, seed=0)
    return SharedTrainer(net, learning_rate=0.05)


def test_one_trace_serves_every_architecture(smallest_trainer):
    images, labels = _toy_data(16, 0)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(30):
        indices = SMALLEST.sample_uniform(rng)
        seen.add(indices)
        smallest_trainer.train_step(images, labels, indices)
        smallest_trainer.evaluate(images, labels, indices)
    assert len(seen) > 10
    assert smallest_trainer.traces == {"train": 1, "evaluate": 1}


def test_shared_training_learns_the_toy_task(smallest_trainer):
    images, labels = _toy_data(96, 1)
    rng = np.random.default_rng(1)
    for _ in range(3):
        for start in range(0, 96, 16):
            smallest_trainer.train_step(
                images[start : start + 16], labels[start : start + 16], SMALLEST.sample_uniform(rng)
            )
    test_images, test_labels = _toy_data(64, 2)
    accuracy = smallest_trainer.evaluate_all(test_images, test_labels, SMALLEST.sample_uniform(rng))
    assert accuracy > 0.6  # chance: 0.33


def test_controller_learns_from_shared_weight_rewards(smallest_trainer):
    # A learnable toy task: the shared weights are trained on one architecture only, so the
    # 256 architectures of the space score differently on a fixed validation batch. REINFORCE
    # on those rewards must raise the policy's expected reward (computed exactly over the space).
    import itertools

    from keras_nasnet.search.controller import Controller
    from keras_nasnet.search.policy import PolicyLearner

    images, labels = _toy_data(96, 3)
    trained_on = SMALLEST.sample_uniform(np.random.default_rng(5))
    for _ in range(4):
        for start in range(0, 96, 16):
            smallest_trainer.train_step(
                images[start : start + 16], labels[start : start + 16], trained_on
            )
    every = list(itertools.product(*(range(n) for n in SMALLEST.choice_counts)))
    reward = {a: smallest_trainer.evaluate(images, labels, a)[1] for a in every}
    controller = Controller(SMALLEST, units=16, seed=0)
    learner = PolicyLearner(controller, "reinforce", learning_rate=0.05, update_every=1)

    def expected_reward():
        total = 0.0
        for a in every:
            probabilities = controller.probabilities(a)
            total += float(np.prod([p[i] for p, i in zip(probabilities, a)])) * reward[a]
        return total

    before = expected_reward()
    for _ in range(150):
        sample = controller.sample()
        learner.observe(sample.actions, sample.log_prob, reward[sample.actions])
    after = expected_reward()
    best = max(reward.values())
    assert best - before > 0.05  # the task leaves something to learn
    assert after > before + 0.5 * (best - before), (before, after, best)


def test_search_state_is_saved_each_epoch_and_restored(tmp_path):
    train, validation = _toy_data(48, 4), _toy_data(32, 5)
    settings = SharedSettings(filters=4, batch_size=16, controller_steps=3, derive_samples=2)
    records = []
    now = [0.0]  # a clock that moves 10 s per epoch

    def on_epoch(record):
        records.append(record)
        now[0] += 10.0

    def clock():
        return now[0]

    search = EnasSearch(
        train,
        validation,
        3,
        str(tmp_path),
        SMALLEST,
        settings,
        seed=1,
        on_epoch=on_epoch,
        clock=clock,
    )
    search.run(1)
    assert [r["epoch"] for r in records] == [1] and records[0]["train_steps"] == 3
    search.run(10, max_time="25s")  # epochs start at 10 s and 20 s, none at 30 s
    assert [r["epoch"] for r in records] == [1, 2, 3] and search.elapsed() == 30.0
    assert os.listdir(tmp_path / "enas") and (tmp_path / "tensorboard" / "enas").is_dir()
    resumed = EnasSearch(
        train, validation, 3, str(tmp_path), SMALLEST, settings, seed=1, clock=clock
    )
    assert resumed.resumed and resumed.epoch == 3 and resumed.history == search.history
    assert resumed.elapsed() == 20.0  # saved with epoch 3's state, before its callback
    resumed.run(10, max_time=20)  # the budget counts the earlier run: nothing starts
    assert resumed.epoch == 3
    for a, b in zip(search.supernet.get_weights(), resumed.supernet.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(search.trainer.slots, resumed.trainer.slots):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert resumed.rng.bit_generator.state == search.rng.bit_generator.state
    assert resumed.controller.sample().actions == search.controller.sample().actions
    with pytest.raises(ValueError, match="another space or settings"):
        EnasSearch(train, validation, 3, str(tmp_path), TINY, settings, seed=1)


def test_a_search_records_its_data_and_refuses_to_resume_on_other_data(tmp_path):
    train, validation = _toy_data(32, 4), _toy_data(16, 5)
    settings = SharedSettings(filters=4, batch_size=16, controller_steps=1, derive_samples=1)
    source = {"dataset": "fashion_mnist", "validation_size": 0.1}

    def make(data_source):
        return EnasSearch(
            train, validation, 3, str(tmp_path), SMALLEST, settings, data_source=data_source
        )

    make(source).run(1)
    state = read_state(str(tmp_path / "enas" / "state.json"))
    assert state["data_source"] == source
    assert make(dict(source)).resumed and make(None).resumed  # None: not checked
    with pytest.raises(ValueError, match="validation_size 0.1 there, 0.2 here"):
        make({**source, "validation_size": 0.2})
    with pytest.raises(ValueError, match="dataset 'fashion_mnist' there, 'mnist' here"):
        make({**source, "dataset": "mnist"})
    with pytest.raises(TypeError, match="data_source"):
        make("fashion_mnist")
    # A state saved before the record (no "data_source") resumes whatever the caller says.
    del state["data_source"]
    (tmp_path / "enas" / "state.json").write_text(json.dumps(state))
    assert make({**source, "dataset": "mnist"}).resumed


RESUME_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from tests.test_search_enas import SMALLEST, _toy_data
from keras_nasnet.search.enas import EnasSearch, SharedSettings
settings = SharedSettings(filters=4, batch_size=16, controller_steps=2, derive_samples=2)
search = EnasSearch(_toy_data(32, 4), _toy_data(16, 5), 3, {directory!r}, SMALLEST, settings,
                    seed=1, on_epoch=lambda r: print("EPOCH", r["epoch"], flush=True))
print("START", search.epoch, flush=True)
search.run({epochs})
print("DONE", [round(w.sum(), 6) for w in search.supernet.get_weights()[:3]], flush=True)
"""


@pytest.mark.slow
def test_a_sigkilled_search_resumes_from_its_last_epoch(tmp_path):
    directory = str(tmp_path / "search")

    def start(epochs):
        script = RESUME_SCRIPT.format(root=ROOT, directory=directory, epochs=epochs)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        return subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )

    process = start(epochs=50)
    for line in process.stdout:
        if line.startswith("EPOCH 2"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    with open(os.path.join(directory, "enas", "state.json")) as f:
        saved = json.load(f)["epoch"]
    assert saved >= 2
    process = start(epochs=saved + 1)
    output = process.communicate(timeout=900)[0]
    assert f"START {saved}" in output and f"EPOCH {saved + 1}" in output, output
    assert process.returncode == 0


@pytest.mark.slow
def test_search_shared_derives_writes_and_trains_the_best_cell(tmp_path):
    from keras_nasnet.genotypes import read_architecture
    from keras_nasnet.search.enas import search_shared
    from keras_nasnet.training import TrainingSettings

    settings = SharedSettings(filters=4, batch_size=128, controller_steps=2, derive_samples=3)
    result = search_shared(
        "fashion_mnist_sample",
        str(tmp_path),
        epochs=1,
        space=SMALLEST,
        settings=settings,
        final=TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=256),
        validation_size=600,
        verbose=0,
    )
    assert read_architecture(str(tmp_path / "best_architecture.json")) == result.best_architecture
    with open(tmp_path / "derive.json") as f:
        derived = json.load(f)
    scores = [d["validation_accuracy"] for d in derived]
    assert len(derived) == 3 and scores == sorted(scores, reverse=True)
    assert result.best_accuracy == scores[0] > 0.1  # above chance after one short epoch
    assert (tmp_path / "final_model.keras").exists() and (tmp_path / "report_enas.html").exists()
    assert result.final.test_accuracy > 0.1


def test_cli_arguments_reach_the_settings(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)  # the command holds its relative --directory there
    from keras_nasnet import cli
    from keras_nasnet.search.enas import loop as enas

    seen = {}
    monkeypatch.setattr(enas, "search_shared", lambda *a, **k: seen.update(k, args=a))
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
    shared = ["--evaluation", "shared", "--shared-filters", "4", "--controller-steps", "7"]
    assert cli.main([*argv, *shared]) == 0
    assert seen["args"] == ("fashion_mnist_sample", "somewhere")
    assert seen["settings"].filters == 4 and seen["settings"].controller_steps == 7
    assert seen["settings"].algorithm == "ppo" and seen["overwrite"] is False
    assert cli.main([*argv, *shared, "--algorithm", "evolution"]) == 2
    assert "must be 'reinforce' or 'ppo'" in capsys.readouterr().err


def test_search_command_with_shared_evaluation_runs_the_enas_loop(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the command holds its relative --directory there
    from keras_nasnet import cli
    from keras_nasnet.search.enas import loop as enas

    seen = {}
    monkeypatch.setattr(enas, "search_shared", lambda *a, **k: seen.update(k, args=a))
    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
    shared = ["--evaluation", "shared", "--shared-filters", "4", "--no-final", "--max-time", "1h"]
    assert cli.main([*argv, *shared]) == 0
    assert seen["args"] == ("fashion_mnist_sample", "somewhere")
    assert seen["space"] is None and seen["final"] is False  # ENAS's space, no final model
    assert seen["settings"].filters == 4 and seen["max_time"] == 3600.0
    ops = ["--ops", "identity,sep_conv_3x3", "--combines", "add"]
    assert cli.main([*argv, "--evaluation", "shared", *ops]) == 0
    assert seen["space"].ops == ("identity", "sep_conv_3x3") and seen["space"].combines == ("add",)


def test_the_oracle_and_the_pipeline_send_shared_evaluation_to_enas(tmp_path):
    from keras_nasnet.search.pipeline import search_dataset

    with pytest.raises(ValueError, match="search_shared"):
        search.NASOracle(SearchSpace(num_blocks=1), "ppo", max_trials=2, evaluation="shared")
    with pytest.raises(ValueError, match="search_shared"):
        search_dataset("fashion_mnist_sample", str(tmp_path), evaluation="shared")


def test_shared_training_under_mirrored_strategy_matches_one_device():
    # A subprocess, for 2 logical CPUs. Three steps, three architectures, the global batch
    # split over 2 replicas: batch norm's statistics and the gradients must be the batch's.
    result = run_script_json("mirrored_enas.py", timeout=600)
    assert result["mirrored"] == pytest.approx(result["single"], abs=1e-5)
    assert result["weights"] < 1e-5  # float32 round-off
    assert result["traces"] == 1  # one traced distributed step for every architecture


@pytest.mark.slow
def test_unsynchronized_batch_norm_under_mirrored_strategy_is_caught():
    # The wiring error the comparison above exists to catch: per-replica statistics.
    result = run_script_json("mirrored_enas.py", "--unsynchronized", timeout=600)
    assert result["weights"] > 1e-2  # per-replica statistics move the weights


def test_shared_evaluation_refuses_roles(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the command holds its relative --directory there
    from keras_nasnet import cli

    argv = ["search", "--dataset", "fashion_mnist_sample", "--directory", "somewhere"]
    assert cli.main([*argv, "--evaluation", "shared", "--role", "chief"]) == 2
    assert "--role is not supported" in capsys.readouterr().err
