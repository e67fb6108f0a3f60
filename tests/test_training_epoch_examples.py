"""`TrainingSettings.epoch_examples`: a fraction of an epoch, for the children, the final model
and a comparison's recipe alike."""

import numpy as np
import pytest
import tensorflow as tf

from keras_nasnet import training
from keras_nasnet.search.evaluators.child import NASNetHyperModel, NASTuner
from keras_nasnet.search.oracles.nasnet import NASOracle
from keras_nasnet.search.spaces.nasnet_cells import SearchSpace

SPACE = SearchSpace(ops=("identity", "sep_conv_3x3"), num_blocks=1)
TINY = training.TrainingSettings(num_blocks=1, filters=4, epochs=2, batch_size=32)


def images(n=128, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, n).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(32)


def test_steps_per_epoch_counts_whole_batches_of_the_examples_asked():
    assert TINY.steps_per_epoch(128) == 4 and not TINY.limits_epoch(128)
    limited = TINY.replace(epoch_examples=40)
    assert limited.steps_per_epoch(128) == 2 and limited.limits_epoch(128)
    assert limited.steps_per_epoch(20) == 1 and not limited.limits_epoch(20)
    with pytest.raises(ValueError, match="epoch_examples"):
        TINY.replace(epoch_examples=0)


def test_to_dict_names_epoch_examples_only_when_set():
    # A comparison directory's settings.json written before the field existed still matches.
    assert "epoch_examples" not in TINY.to_dict()
    assert TINY.replace(epoch_examples=64).to_dict()["epoch_examples"] == 64


def test_fit_takes_steps_per_epoch_batches_each_epoch():
    model = training.build_model("nasnet_a", (16, 16, 1), 3, TINY, steps_per_epoch=1)
    training.fit(model, images(), epochs=2, steps_per_epoch=1)
    assert int(model.optimizer.iterations) == 2  # 2 epochs of 1 of the 4 batches


def test_a_child_trains_the_fraction_of_an_epoch_its_settings_ask(tmp_path, monkeypatch):
    seen = []

    def fit(self, hp, model, *args, **kwargs):
        seen.append(kwargs["steps_per_epoch"])
        return training.fit(model, *args, **kwargs)

    monkeypatch.setattr(NASNetHyperModel, "fit", fit)
    for settings, expected in ((TINY.replace(epochs=1, epoch_examples=32), 1), (TINY, None)):
        oracle = NASOracle(SPACE, "random", max_trials=1, seed=0)
        hypermodel = NASNetHyperModel(SPACE, (16, 16, 1), 3, settings, steps_per_epoch=1)
        directory = tmp_path / str(expected)
        tuner = NASTuner(oracle, hypermodel, verbose=0, directory=str(directory))
        tuner.search(images(), images(seed=1))
        assert seen.pop() == expected


def test_train_fits_a_slice_of_the_training_split_and_scores_the_rest():
    # A search child's held-out score outside a search: the sample's last 600 training images.
    result = training.train(
        "nasnet_a",
        "fashion_mnist_sample",
        TINY.replace(epochs=1),
        seed=0,
        train_split="train[:96]",
        evaluate_on="train[-600:]",
    )
    assert int(result.model.optimizer.iterations) == 3  # 96 images, batches of 32
    assert result.metrics["trained_on"] == "train[:96]"
    assert result.metrics["evaluated_on"] == "train[-600:]"
    assert 0.0 <= result.test_accuracy <= 1.0
