"""A search over a space of whole networks on a dataset, with the stock `keras_tuner.Tuner`.

What `keras-nasnet search --space macro` (and the other spaces of `NETWORK_SPACES`) runs: the
space's hypermodel, an any-space oracle (`ControllerOracle`, `EvolutionOracle` or
`RandomOracle`) and keras-tuner's own Tuner, so the search resumes, keeps keras-tuner's
contract and runs behind its distributed chief as any keras-tuner search does. Layout of the
search directory:

    search/                  keras-tuner project: oracle.json, nas_state.json, trial_*/
    best_architecture.json   {"space", "point", "values", "reward"}: the best point found
    final_model.keras        the best point trained on the whole training split
    final_model.keras.json   its space, epochs, parameter count and test accuracy
    final_model.tflite       the final model as a float LiteRT / TF-Lite file (for phones)
    report.html, report_files/, tensorboard/
                             the search report and events (`reporting`), as a cell search's

The NASNet cell space keeps its own pipeline (`pipeline.search_dataset`): evaluations by
proxies and shared weights, the NASNet recipe, reports.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import keras_tuner

from ..process_memory import check_bound, parse_size
from ..validation import check_choice, check_int, check_positive
from .clock import parse_duration
from .evaluators.child import OBJECTIVE, seed_trial, trial_line
from .oracles.base import with_caller_recipe
from .state import BEST_FILE, PROJECT_NAME, atomic_write

FINAL_MODEL_FILE = "final_model.keras"
ALGORITHMS = ("ppo", "reinforce", "evolution", "random")


@dataclass(frozen=True)
class NetworkSpace:
    """A space of whole networks as the command line searches it: `make(options, input_shape,
    classes, learning_rate, latency)` returns (the space, its keras-tuner hypermodel);
    `options` are the space's own settings (e.g. {"layers": 6}) with their defaults;
    `to_json(point)` is what best_architecture.json keeps of a point; `latency` says whether
    the hypermodel can measure each trial's LiteRT latency (MnasNet's reward); `later_options`
    are options added after searches began saving their recipe: left out of it at their
    default, so that those searches still resume."""

    name: str
    make: Callable
    options: dict = field(default_factory=dict)
    to_json: Callable = lambda point: point.to_dict()
    latency: bool = False
    later_options: tuple = ()

    def recipe_options(self, options: dict) -> dict:
        """Returns `options` as a search's recipe records them."""
        return {
            name: value
            for name, value in options.items()
            if not (name in self.later_options and value == self.options[name])
        }


def _macro(options: dict, input_shape, classes: int, learning_rate, latency):
    from .spaces.macro import MacroHyperModel, MacroSearchSpace

    space = MacroSearchSpace(num_layers=options["layers"])
    extra = {} if learning_rate is None else {"learning_rate": learning_rate}
    return space, MacroHyperModel(space, input_shape=input_shape, classes=classes, **extra)


# Below this side, MnasNet's skeleton strides less (its small-image strides), so that 28x28
# and 32x32 images keep a 4x4 map at the head rather than 1x1.
SMALL_IMAGE_SIDE = 64


def mnasnet_strides(input_shape) -> Optional[tuple]:
    """Returns the per-block strides MnasNet networks take for `input_shape` images:
    `SMALL_IMAGE_STRIDES` below `SMALL_IMAGE_SIDE` pixels, else None (the skeleton's own)."""
    from .spaces.mnasnet_blocks import SMALL_IMAGE_STRIDES

    return SMALL_IMAGE_STRIDES if min(input_shape[:2]) < SMALL_IMAGE_SIDE else None


def _mnasnet(options: dict, input_shape, classes: int, learning_rate, latency):
    from .spaces.mnasnet_blocks import MnasNetHyperModel, MnasNetSearchSpace

    space = MnasNetSearchSpace(
        base=options["base"],
        strides=mnasnet_strides(input_shape),
        depth_coefficient=options["depth_coefficient"],
    )
    extra = {} if learning_rate is None else {"learning_rate": learning_rate}
    hypermodel = MnasNetHyperModel(
        space,
        input_shape=input_shape,
        classes=classes,
        depth_multiplier=options["depth_multiplier"],
        latency=latency,
        **extra,
    )
    return space, hypermodel


def _blocks_json(blocks) -> list:
    from ..mobile_blocks import format_blocks

    return format_blocks(blocks)


NETWORK_SPACES = {
    space.name: space
    for space in (
        NetworkSpace("macro", _macro, {"layers": 6}),
        NetworkSpace(
            "mnasnet",
            _mnasnet,
            {"base": "mobilenet_v2", "depth_multiplier": 0.5, "depth_coefficient": 0.5},
            to_json=_blocks_json,
            latency=True,
            later_options=("base",),
        ),
    )
}


@dataclass
class NetworkSearchResult:
    """What `search_network_space` produced: the best point and its values, the final model's
    test accuracy and files (None when not trained or not exported)."""

    directory: str
    space: str
    trials: int
    best_point: object
    best_values: dict
    best_reward: float
    test_accuracy: Optional[float] = None
    model_path: Optional[str] = None
    tflite_path: Optional[str] = None
    final_model: Optional[object] = None


def search_network_space(
    space: str,
    dataset: str,
    directory: str,
    max_trials: int = 20,
    algorithm: str = "ppo",
    seed: int = 0,
    epochs: int = 1,
    batch_size: int = 64,
    learning_rate: Optional[float] = None,
    epoch_examples: Optional[int] = None,
    final_epochs: Optional[int] = 3,
    final_epoch_examples: Optional[int] = None,
    space_options: Optional[dict] = None,
    data_dir: Optional[str] = None,
    validation_size=0.1,
    max_time=None,
    max_memory=None,
    overwrite: bool = False,
    export_tflite: bool = True,
    verbose: bool = True,
    latency_target_ms: Optional[float] = None,
    latency_alpha: float = -0.07,
    latency_beta: float = -0.07,
    latency_quantize: Optional[str] = None,
    **oracle_settings,
) -> Optional[NetworkSearchResult]:
    """Searches `space` (a name of `NETWORK_SPACES`) on `dataset`: each trial trains its network
    for `epochs` on the training part (`epoch_examples` images per epoch, or all) and is scored
    by its accuracy on the held-out part (`validation_size`); then the best network is trained
    for `final_epochs` on the whole training split (`final_epoch_examples` images per epoch, or
    all; None or 0 epochs: not trained), scored on the test split, saved and exported. Running
    it again on `directory` resumes the search. `oracle_settings` go to the oracle
    (`ControllerOracle`: update_every, learning_rate, ...; `EvolutionOracle`: population_size,
    tournament_size). With `latency_target_ms` (spaces that measure latency: mnasnet) each
    trial's batch-1 LiteRT latency (float, or int8 with `latency_quantize="int8"`; 1 thread) is
    measured and the reward is MnasNet's ``accuracy * (latency / target) ** w``. `max_memory`
    (bytes, or "8G") stops the search with `keras_nasnet.process_memory.MemoryBoundReached`
    after a trial that leaves the process holding more (run it again to resume; as
    `pipeline.search_dataset`).

    Returns:
        A `NetworkSearchResult`, or None for a keras-tuner worker (its chief writes the files).

    Raises:
        ValueError: an unknown space, algorithm or space option, a bad count or duration, or
            a latency target for a space that does not measure latency.
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
    """
    from .. import data
    from .lock import is_distributed_worker
    from .reporting.monitors import default_monitors

    check_choice(space, "space", NETWORK_SPACES)
    check_choice(algorithm, "algorithm", ALGORITHMS)
    check_int(max_trials, "max_trials", minimum=1)
    check_int(epochs, "epochs", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_int(epoch_examples, "epoch_examples", minimum=1, allow_none=True)
    check_int(final_epochs, "final_epochs", minimum=0, allow_none=True)
    check_int(final_epoch_examples, "final_epoch_examples", minimum=1, allow_none=True)
    if learning_rate is not None:
        check_positive(learning_rate, "learning_rate")
    max_time = parse_duration(max_time, "max_time")
    max_memory = parse_size(max_memory)
    entry = NETWORK_SPACES[space]
    options = _space_options(entry, space_options)
    check_choice(latency_quantize, "latency_quantize", (None, "int8"))
    latency = None
    if latency_target_ms is not None:
        if not entry.latency:
            raise ValueError(
                f"The {space} space does not measure latency: `latency_target_ms` applies to "
                f"{', '.join(n for n, e in NETWORK_SPACES.items() if e.latency)}."
            )
        from .evaluators.reward import MnasNetReward

        oracle_settings["reward"] = MnasNetReward(
            latency_target_ms, latency_alpha, latency_beta, accuracy=OBJECTIVE
        ).from_trial
        latency = latency_quantize or "float"

    info = data.info(dataset, data_dir)
    train_split, validation_split = data.holdout_splits(dataset, validation_size, data_dir)
    search_space, hypermodel = entry.make(
        options, info.image_shape, info.num_classes, learning_rate, latency
    )
    # What a trial's reward depends on beyond its network, checked on a resume (the oracle's
    # `recipe`): rewards of other trainings or data would not compare with the saved ones.
    recipe = {
        "space_options": entry.recipe_options(options),
        "dataset": dataset,
        "train_split": train_split,
        "validation_split": validation_split,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "epoch_examples": epoch_examples,
        "latency": None
        if latency is None
        else {
            "kind": latency,
            "target_ms": latency_target_ms,
            "alpha": latency_alpha,
            "beta": latency_beta,
        },
    }
    oracle_settings["recipe"] = with_caller_recipe(recipe, oracle_settings)
    if "monitors" not in oracle_settings:
        # The cell search's report.html and TensorBoard events, written by the chief.
        oracle_settings["monitors"] = [] if is_distributed_worker() else default_monitors(directory)
    oracle = _oracle(algorithm, search_space, max_trials, seed, max_time, oracle_settings)
    tuner = _PrintingTuner(
        verbose,
        seed,
        max_memory,
        oracle=oracle,
        hypermodel=hypermodel,
        directory=directory,
        project_name=PROJECT_NAME,
        overwrite=overwrite,
    )
    steps = _steps_per_epoch(epoch_examples, batch_size)
    # Each trial trains on the pipeline of its own seed (`trial_seed`).
    train = data.seeded_loader(
        dataset,
        train_split,
        data_dir,
        batch_size=batch_size,
        augment=True,
        repeat=steps is not None,
    )
    validation = data.load(dataset, validation_split, data_dir, batch_size=256, augment=False)
    if verbose:
        print(
            f"search: {algorithm} over the {space} space ({len(search_space.decision_space())} "
            f"decisions), {max_trials} trials"
            + (f" or {max_time:g} s" if max_time is not None else "")
            + f" on {dataset} ({train_split} / {validation_split}), {epochs} epoch(s) per "
            f"trial; directory {directory}",
            flush=True,
        )
    tuner.search(train, validation_data=validation, epochs=epochs, steps_per_epoch=steps, verbose=0)
    if is_distributed_worker():
        return None
    best_trials = [t for t in oracle.get_best_trials(1) if t.score is not None]
    if not best_trials:
        raise RuntimeError(
            f"No trial of the search in {directory!r} finished with a score; see the trials' "
            "errors above."
        )
    best = best_trials[0]
    point = search_space.architecture(best.hyperparameters)
    result = NetworkSearchResult(
        directory=directory,
        space=space,
        trials=len(oracle.trials),
        best_point=point,
        best_values=dict(best.hyperparameters.values),
        best_reward=float(best.score),
    )
    _write_best(result, entry.to_json)
    oracle.notify_final()  # the report again, now beside best_architecture.json
    if final_epochs:
        _train_final(
            result,
            hypermodel,
            best.hyperparameters,
            dataset,
            data_dir,
            final_epochs,
            final_epoch_examples,
            batch_size,
            seed,
            verbose,
        )
        if export_tflite:
            from .pipeline import export_final_model

            result.tflite_path, _ = export_final_model(result.final_model, directory, verbose)
    return result


def _space_options(entry: NetworkSpace, given: Optional[dict]) -> dict:
    given = dict(given or {})
    unknown = sorted(set(given) - set(entry.options))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {', '.join(unknown)} for the {entry.name} space; it takes: "
            f"{', '.join(entry.options) or 'none'}."
        )
    return {**entry.options, **{k: v for k, v in given.items() if v is not None}}


def _oracle(algorithm: str, search_space, max_trials: int, seed: int, max_time, settings):
    from .oracles.any_space import ControllerOracle, EvolutionOracle, RandomOracle

    common = {
        "objective": keras_tuner.Objective(OBJECTIVE, direction="max"),
        "max_trials": max_trials,
        "seed": seed,
        "max_time": max_time,
        "space": search_space.decision_space(),
        **settings,
    }
    if algorithm in ("ppo", "reinforce"):
        return ControllerOracle(algorithm=algorithm, **common)
    if algorithm == "evolution":
        return EvolutionOracle(**common)
    return RandomOracle(**common)


def _write_best(result: NetworkSearchResult, to_json: Callable) -> None:
    record = {
        "space": result.space,
        "point": to_json(result.best_point),
        "values": result.best_values,
        "reward": result.best_reward,
    }
    atomic_write(
        os.path.join(result.directory, BEST_FILE),
        (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )


def _steps_per_epoch(epoch_examples: Optional[int], batch_size: int) -> Optional[int]:
    """Returns the batches of an epoch of `epoch_examples` images (None: the whole split)."""
    # Rounded up, as `TrainingSettings.steps_per_epoch` counts a cell search's epoch.
    return None if epoch_examples is None else math.ceil(epoch_examples / batch_size)


def _train_final(
    result,
    hypermodel,
    hyperparameters,
    dataset,
    data_dir,
    epochs,
    epoch_examples,
    batch_size,
    seed,
    verbose,
) -> None:
    import keras

    from .. import data

    if verbose:
        print(
            f"final: best point (reward {result.best_reward:.4f}) for {epochs} epochs of "
            + (
                "the whole training split"
                if epoch_examples is None
                else f"{epoch_examples:,} images of the training split"
            ),
            flush=True,
        )
    keras.utils.set_random_seed(seed)
    model = hypermodel.build(hyperparameters)
    train = data.load(dataset, "train", data_dir, batch_size=batch_size, seed=seed)
    steps = _steps_per_epoch(epoch_examples, batch_size)
    model.fit(
        train if steps is None else train.repeat(),
        epochs=epochs,
        steps_per_epoch=steps,
        verbose=0,
    )
    metrics = model.evaluate(
        data.load(dataset, "test", data_dir, batch_size=256, augment=False),
        return_dict=True,
        verbose=0,
    )
    result.test_accuracy = float(metrics["accuracy"])
    result.model_path = os.path.join(result.directory, FINAL_MODEL_FILE)
    model.save(result.model_path)
    summary = {
        "space": result.space,
        "epochs": epochs,
        "epoch_examples": epoch_examples,
        "params": int(model.count_params()),
        "test_accuracy": result.test_accuracy,
    }
    atomic_write(
        result.model_path + ".json",
        (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode("utf-8"),
    )
    result.final_model = model
    if verbose:
        print(
            f"final: test accuracy {result.test_accuracy:.4f}, {summary['params']:,} "
            f"parameters -> {result.model_path}",
            flush=True,
        )


class _PrintingTuner(keras_tuner.Tuner):
    """keras-tuner's Tuner with a line per finished trial as the cell search prints it (reward,
    accuracy and latency under a latency reward, parameters, time, best so far; a failed
    trial's reason); keras-tuner's own display is turned off.

    Each trial's weights and data come from its own seed (`trial_seed`; the training data
    given as a function of it), so a trial trains the same network on the same batches after a
    resume or on any worker, whatever the process trained before it.
    """

    def __init__(self, verbose: bool, seed: int, max_memory: Optional[int], **kwargs):
        super().__init__(**kwargs)
        self._say = bool(verbose)
        self._seed = seed
        self._max_memory = max_memory
        self._start: dict = {}

    def run_trial(self, trial, *args, **kwargs):
        if args:  # the training data (or its function of a seed) comes first
            args = (seed_trial(self._seed, trial.trial_id, args[0]), *args[1:])
        else:
            seed_trial(self._seed, trial.trial_id)
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self._start[trial.trial_id] = time.perf_counter()

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        start = self._start.pop(trial.trial_id, None)
        if self._say:
            seconds = None if start is None else time.perf_counter() - start
            print(trial_line(self.oracle, trial.trial_id, seconds), flush=True)
        check_bound(self._max_memory, trial.trial_id)  # the trial is saved: a new process resumes
