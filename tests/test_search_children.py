import json
import os

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from keras_nasnet import Architecture, cli, training
from keras_nasnet.search import NASOracle, SearchSpace
from keras_nasnet.search.child import NASNetHyperModel, NASTuner
from keras_nasnet.search.pipeline import load_summary

TINY_SPACE = SearchSpace(ops=("identity", "sep_conv_3x3", "max_pool_3x3"), num_blocks=2)
TINY = training.TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32)


def random_images(n=64, size=16, classes=3, seed=0, poison=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, size, size, 1)).astype("float32")
    if poison:  # one bad pixel per batch drives every child's loss to NaN
        x[::32, 0, 0, 0] = np.inf
    y = rng.integers(0, classes, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(32)


def make_tuner(tmp_path, settings, max_trials=2, **oracle_kwargs):
    oracle = NASOracle(
        TINY_SPACE,
        "ppo",
        objective=keras_tuner.Objective("val_accuracy", "max"),
        max_trials=max_trials,
        seed=0,
        update_every=2,
        **oracle_kwargs,
    )
    hypermodel = NASNetHyperModel(TINY_SPACE, (16, 16, 1), 3, settings, steps_per_epoch=2)
    return NASTuner(oracle, hypermodel, verbose=1, directory=str(tmp_path), project_name="search")


def test_tuner_trains_children_and_the_controller_learns_from_them(tmp_path, capsys):
    tuner = make_tuner(tmp_path, TINY)
    tuner.search(random_images(), random_images(seed=1))
    oracle = tuner.oracle
    assert [t.status for t in oracle.trials.values()] == ["COMPLETED", "COMPLETED"]
    assert oracle.learner.num_rewards == 2 and oracle.learner.num_updates == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    assert len(lines) == 2 and "reward" in lines[0] and "params" in lines[0] and "best" in lines[0]
    # keras-tuner's own API works on our trials: best hyperparameters -> an architecture, best
    # model.
    best_hp = tuner.get_best_hyperparameters(1)[0]
    assert isinstance(TINY_SPACE.from_values(best_hp.values), Architecture)
    assert tuner.get_best_models(1)[0].output_shape == (None, 3)


def test_a_diverging_child_is_a_failed_trial_and_the_search_continues(tmp_path):
    tuner = make_tuner(tmp_path, TINY, max_trials=2)
    tuner.search(random_images(poison=True), random_images(seed=1))
    oracle = tuner.oracle
    assert [t.status for t in oracle.trials.values()] == ["FAILED", "FAILED"]
    assert "diverged" in oracle.trials["0"].message
    assert oracle.learner.num_rewards == 0 and not oracle.pending


def test_training_settings_validate_their_arguments():
    with pytest.raises(ValueError, match="filters"):
        training.TrainingSettings(filters=0)
    with pytest.raises(ValueError, match="momentum"):
        training.TrainingSettings(momentum=1.5)


def test_penultimate_filters_give_the_requested_filters():
    arch = TINY_SPACE.decode(TINY_SPACE.sample_uniform(np.random.default_rng(0)))
    model = training.build_model(arch, (16, 16, 1), 3, TINY.replace(filters=6), steps_per_epoch=1)
    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D))
    ]

    def cell_filters(kind, suffix):
        return {
            layer.filters for layer in convs if kind in layer.name and layer.name.endswith(suffix)
        }

    assert model.output_shape == (None, 3)
    # Every conv of the first normal cell has F = 6 filters; the first reduction doubles them.
    assert cell_filters("normal", "_0") == {6}
    assert cell_filters("reduction", "_reduce_1") == {12}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    directory = tmp_path_factory.mktemp("search")
    argv = [
        "search",
        "--dataset",
        "fashion_mnist_sample",
        "--directory",
        str(directory),
        "--max-trials",
        "2",
        "--cell-blocks",
        "1",
        "--ops",
        "identity,sep_conv_3x3,max_pool_3x3",
        "--validation-size",
        "500",
        "--epochs",
        "1",
        "--blocks",
        "1",
        "--filters",
        "4",
        "--batch-size",
        "128",
        "--final-epochs",
        "1",
        "--final-blocks",
        "1",
        "--final-filters",
        "4",
        "--final-batch-size",
        "128",
        "--latency-target-ms",
        "50",
    ]
    assert cli.main(argv) == 0
    return directory, argv


def test_search_command_writes_the_best_architecture_and_a_trained_model(searched):
    directory, _ = searched
    summary = load_summary(str(directory))
    assert isinstance(summary["best_architecture"], Architecture)
    assert summary["final"]["accuracy"] > 0.3  # 10 classes: chance is 0.1
    assert summary["final"]["evaluated_on"] == "test"
    model = keras.saving.load_model(os.path.join(directory, "final_model.keras"))
    assert model.output_shape == (None, 10)
    report = (directory / "report.md").read_text()
    assert "| 0 | COMPLETED |" in report and "test accuracy" in report
    page = (
        directory / "report.html"
    ).read_text()  # written by the oracle's monitors and at the end
    assert "<td>1</td><td>" in page and page.count('src="data:image/png;base64,') >= 3
    assert sorted(os.listdir(directory / "tensorboard" / "trials")) == ["0", "1"]


def test_latency_target_records_child_latency_and_scores_with_the_mnasnet_reward(searched):
    from keras_nasnet.search.reward import MnasNetReward

    directory, _ = searched
    trials = [
        json.loads((directory / "search" / f"trial_{i}" / "trial.json").read_text())
        for i in range(2)
    ]
    for trial in trials:
        metrics = {
            name: m["observations"][-1]["value"][0]
            for name, m in trial["metrics"]["metrics"].items()
        }
        assert metrics["latency_ms"] > 0  # the child at the final model's size, as a float .tflite
        # The score keras-tuner ranks by (get_best_trials, get_best_models) is the reward.
        assert trial["score"] == pytest.approx(MnasNetReward(50.0)(metrics))
        assert trial["score"] != pytest.approx(metrics["val_accuracy"])
    state = json.loads((directory / "search" / "nas_state.json").read_text())
    assert [state["rewards"][str(i)] for i in range(2)] == pytest.approx(
        [t["score"] for t in trials]
    )
    assert "| val_accuracy | latency_ms |" in (directory / "report.md").read_text()


def test_search_command_exports_the_final_model_to_tflite(searched, tmp_path):
    from keras_nasnet import data, export

    directory, _ = searched
    tflite = str(directory / "final_model.tflite")
    model = keras.saving.load_model(os.path.join(directory, "final_model.keras"))
    x, _ = next(iter(data.load("fashion_mnist_sample", "test", batch_size=32, augment=False)))
    np.testing.assert_allclose(export.predict(tflite, x), model.predict(x, verbose=0), atol=1e-4)
    assert "final_model.tflite" in (directory / "report.md").read_text()
    # The final .keras file converts through the command too, calibrated on the dataset.
    out = str(tmp_path / "final_int8.tflite")
    argv = [
        "export",
        os.path.join(directory, "final_model.keras"),
        out,
        "--quantize",
        "int8",
        "--calibration-data",
        "fashion_mnist_sample",
        "--calibration-size",
        "64",
        "--runs",
        "2",
    ]
    assert cli.main(argv) == 0
    assert export.interpreter(out).get_input_details()[0]["dtype"] == np.int8


# Slow (52 s): resuming is covered by the oracle, evolution and max_time resume tests.
@pytest.mark.slow
def test_search_command_resumes_instead_of_starting_over(searched, capsys):
    directory, argv = searched
    trial_dirs = sorted(
        p.name for p in (directory / "search").iterdir() if p.name.startswith("trial_")
    )
    argv = [a for a in argv]
    argv[argv.index("--max-trials") + 1] = "3"
    argv.append("--no-final")
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("trial ")] == [
        "2"
    ]  # only the new trial
    assert len(trial_dirs) == 2


def test_train_command_trains_the_searched_architecture_into_a_keras_model(searched, tmp_path):
    directory, _ = searched
    output = tmp_path / "model.keras"
    argv = [
        "train",
        "--architecture",
        str(directory / "best_architecture.json"),
        "--dataset",
        "fashion_mnist_sample",
        "--output",
        str(output),
        "--epochs",
        "1",
        "--blocks",
        "1",
        "--filters",
        "4",
        "--batch-size",
        "128",
    ]
    assert cli.main(argv) == 0
    metrics = json.loads((tmp_path / "model.keras.json").read_text())
    assert metrics["accuracy"] > 0.3
    assert (
        Architecture.from_dict(metrics["architecture"])
        == load_summary(str(directory))["best_architecture"]
    )
    assert keras.saving.load_model(output).count_params() == metrics["params"]


def test_commands_report_a_missing_dataset_clearly(tmp_path, monkeypatch, capsys):
    from keras_nasnet import data

    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    argv = [
        "train",
        "--architecture",
        "nasnet_a",
        "--dataset",
        "fashion_mnist",
        "--data-dir",
        str(tmp_path / "data"),
        "--output",
        str(tmp_path / "m.keras"),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "data") in err and "dataset-fashion-mnist" in err
    assert not (tmp_path / "m.keras").exists()
