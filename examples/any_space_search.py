"""Regularized evolution (or the PPO controller) as the oracle of a stock keras_tuner.Tuner, over
a plain hypermodel's space: no NASNet involved. Runs on the bundled Fashion-MNIST sample.

    python examples/any_space_search.py --oracle evolution --max-trials 20
"""

import argparse

import keras
import keras_tuner

from keras_nasnet import data
from keras_nasnet.search import ControllerOracle, EvolutionOracle


def build_model(hp):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    for i in range(hp.Int("layers", 1, 3)):
        model.add(
            keras.layers.Dense(
                hp.Choice(f"units_{i}", [32, 64, 128]),
                activation=hp.Choice("act", ["relu", "gelu"]),
            )
        )
    if hp.Boolean("dropout"):
        with hp.conditional_scope("dropout", [True]):
            model.add(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5, step=0.1)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", choices=["evolution", "ppo"], default="evolution")
    parser.add_argument("--max-trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--directory", default="runs/any_space")
    args = parser.parse_args(argv)
    x, y = data.as_arrays("fashion_mnist_sample", "train")
    x = x.astype("float32") / 255.0
    oracle_class = EvolutionOracle if args.oracle == "evolution" else ControllerOracle
    oracle = oracle_class(objective="val_accuracy", max_trials=args.max_trials, seed=0)
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=build_model, directory=args.directory, project_name=args.oracle
    )
    tuner.search(x, y, validation_split=0.1, epochs=args.epochs, verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    print(f"best val_accuracy {best.score:.4f} with {best.hyperparameters.values}")
    return tuner


if __name__ == "__main__":
    main()
