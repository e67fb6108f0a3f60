"""A stock keras_tuner.Tuner with EvolutionOracle or ControllerOracle on a plain hypermodel
(no NASNet): used by the distributed and resume tests of the any-space oracles.

usage: any_space_tuner.py DIRECTORY ALGORITHM MAX_TRIALS
The role (single, chief or worker) comes from keras-tuner's KERASTUNER_* variables. Prints
"trial ID VALUE" for every trial this process ran, and the best trial's values as JSON last.
"""

import json
import sys

import keras
import keras_tuner

from keras_nasnet.search import ControllerOracle, EvolutionOracle


def score(hp) -> float:
    """A deterministic landscape: best at units=64, act=gelu, lr near 1e-3, 2 layers."""
    value = {16: 0.1, 32: 0.3, 64: 0.5, 128: 0.2}[hp["units"]]
    value += 0.2 if hp["act"] == "gelu" else 0.0
    value += 0.2 * (1.0 - min(abs(hp["lr"] - 1e-3) / 1e-2, 1.0))
    value += 0.1 * (hp["layers"] == 2)
    return value


class PlainHyperModel(keras_tuner.HyperModel):
    def build(self, hp):
        hp.Choice("units", [16, 32, 64, 128])
        hp.Choice("act", ["relu", "gelu"])
        hp.Float("lr", 1e-4, 1e-2, sampling="log")
        hp.Int("layers", 1, 3)
        return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

    def fit(self, hp, model, *args, **kwargs):
        value = score(hp)
        print(f"trial {hp.values} {value:.4f}", flush=True)
        return {"val_accuracy": value}


def main():
    directory, algorithm, max_trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    oracles = {"evolution": EvolutionOracle, "ppo": ControllerOracle}
    settings = {
        "evolution": {"population_size": 3, "tournament_size": 2},
        "ppo": {"update_every": 2},
    }
    oracle = oracles[algorithm](
        objective=keras_tuner.Objective("val_accuracy", "max"),
        max_trials=max_trials,
        seed=3,
        **settings[algorithm],
    )
    tuner = keras_tuner.Tuner(
        oracle=oracle, hypermodel=PlainHyperModel(), directory=directory, project_name="search"
    )
    tuner.search()
    best = tuner.oracle.get_best_trials(1)
    if best:
        print(json.dumps(best[0].hyperparameters.values), flush=True)


if __name__ == "__main__":
    main()
