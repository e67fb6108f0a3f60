"""A whole search on a dataset: children on a held-out split, then the final model.

What `keras-nasnet search` runs. Layout of the search directory:

    search/                  keras-tuner project: oracle.json, nas_state.json, controller-*.npz,
                             trial_*/
    best_architecture.json   the best cell pair (`Architecture.from_json` reads it)
    best_fidelity.json       with `fidelity`: the best candidate's trials, the fidelity its
                             result is at (the highest it reached) and that result
    final_model.keras        the best architecture trained on the whole training split
    final_model.keras.json   its settings, parameter count and test accuracy
    final_model.tflite       the final model as a float LiteRT / TF-Lite file (for phones)
    report.md                trials, best architecture and final accuracy (`search.report`)
    report.html, report_files/   charts, top architectures, best cells (`search.report`; also
                             rewritten while the search runs)
    tensorboard/             controller and per-trial events (`search.monitors`)

In a distributed search (keras-tuner's environment variables, see `search.distributed`) only
the chief holds the trials, so only the chief writes these files and trains the final model;
a worker trains children until the chief stops it and `search_dataset` returns None.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Optional

from ..genotypes import Architecture
from ..process_memory import parse_size
from ..training import TrainingSettings, TrainResult, train
from ..validation import check_choice, check_int
from .clock import parse_duration
from .evaluators.child import CHILD_SETTINGS, OBJECTIVE, PROXY_METRIC, NASNetHyperModel, NASTuner
from .evaluators.evaluation import (
    DEFAULT_PREFILTER_PROXY,
    PROXY_BATCH_SIZE,
    ProxyScorer,
    parse_evaluation,
    proxy_minibatch,
)
from .evaluators.reward import MnasNetReward
from .lock import is_distributed_worker, locks_directory
from .oracles.base import with_caller_recipe
from .oracles.multi_fidelity import PROPOSER_SETTINGS, NASSuccessiveHalvingOracle
from .oracles.nasnet import NASOracle
from .reporting.monitors import default_monitors
from .reporting.report import write_search_reports
from .run import SearchHistory
from .spaces.nasnet_cells import SearchSpace
from .state import BEST_FILE, PROJECT_NAME, atomic_write

BEST_FIDELITY_FILE = "best_fidelity.json"
FINAL_MODEL_FILE = "final_model.keras"
FINAL_TFLITE_FILE = "final_model.tflite"
# Timed runs per child latency: few, since each child already pays a TF-Lite conversion
# (docs/benchmarks.md).
CHILD_LATENCY_RUNS = 10

FINAL_SETTINGS = TrainingSettings(
    num_blocks=2, filters=16, epochs=10, batch_size=64, learning_rate=0.05
)


@dataclass
class SearchResult:
    """The outcome of `search_dataset`."""

    history: SearchHistory
    best_architecture: Architecture
    best_reward: float
    final: Optional[TrainResult]
    directory: str
    reward: Optional[MnasNetReward] = None
    tflite_path: Optional[str] = None
    tflite_latency: Optional[object] = None  # keras_nasnet.export.Latency of the float file
    # A multi-fidelity search's best candidate (`SuccessiveHalvingOracle.candidates()[0]`).
    best_candidate: Optional[dict] = None


@locks_directory(unless=is_distributed_worker)  # one search per directory (search/lock.py)
def search_dataset(
    dataset: str,
    directory: str,
    max_trials: int = 20,
    algorithm: str = "ppo",
    seed: int = 0,
    space: Optional[SearchSpace] = None,
    child: TrainingSettings = CHILD_SETTINGS,
    final: Optional[TrainingSettings] = FINAL_SETTINGS,
    data_dir: Optional[str] = None,
    validation_size=0.1,
    overwrite: bool = False,
    verbose: int = 1,
    strategy=None,
    final_strategy=None,
    latency_target_ms: Optional[float] = None,
    latency_alpha: float = -0.07,
    latency_beta: float = -0.07,
    export_tflite: bool = True,
    latency_quantize: Optional[str] = None,
    evaluation: str = "train",
    prefilter: int = 1,
    prefilter_proxy: str = DEFAULT_PREFILTER_PROXY,
    max_time=None,
    final_callbacks=(),
    fidelity: Optional[tuple] = None,
    eta: int = 3,
    brackets: Optional[int] = 1,
    child_params=None,
    max_memory=None,
    **oracle_kwargs,
) -> Optional[SearchResult]:
    """Searches cells on `dataset`, then trains the best one; resumes from `directory`.

    Children train on the training split minus a held-out validation part
    (`validation_size`, a fraction or a count) and are scored by their best validation
    accuracy; the test split is only used to report the final model's accuracy.

    Distributed (keras-tuner's KERASTUNER_* environment variables set): the chief serves the
    oracle (pass `worker_timeout=SECONDS` among the oracle arguments to re-queue the trials of
    dead workers), waits for the workers to finish every trial, then writes the files; a worker
    only trains children (it never overwrites the directory).

    With `latency_target_ms`, each child is also built at the final model's size (`final`,
    or `FINAL_SETTINGS` when None), exported as a float `.tflite` and timed at batch 1 on one
    thread; the reward is MnasNet's `accuracy * (latency / target) ** w` (w = `latency_alpha`
    at or under the target, `latency_beta` over it) and "latency_ms" is a trial metric.
    `latency_quantize="int8"` times each child's full-integer `.tflite` instead (what phones run).
    With `export_tflite`, the final model is also written as `final_model.tflite`.

    `evaluation="proxy:NAME"` scores each trial by the zero-cost proxy NAME of the untrained
    child on one minibatch (`evaluation.PROXY_BATCH_SIZE` images of the training part, drawn
    with `seed`) instead of training it: the whole search takes seconds per trial; the final
    model is trained as usual. `prefilter=K` has the algorithm propose K architectures per trial
    and trains only the best by `prefilter_proxy` (see `NASOracle`). `max_time` (seconds, or
    "10m", "1h") stops starting trials once the search has run that long, over all its runs;
    the running ones finish and the final steps run; run again with more time to resume.
    `max_memory` (bytes, or "8G") stops the search with `process_memory.MemoryBoundReached`
    after a trial that leaves the process holding more: Keras keeps memory for every child a
    process trains, and only a new process frees it; run the search again (a new process) to
    resume. `keras-nasnet search` restarts itself so (`--max-memory`).

    `child_params` (a parameter count, or an architecture such as "nasnet_a": its child's
    count at `child`) builds each child at the F whose count is closest to it rather than at
    `child.filters` (`NASNetHyperModel(params_target=...)`), so that the reward compares cells
    at one size, as `compare` judges them, instead of rewarding cells for the size of their
    ops; each trial records its F as the metric "filters".

    `fidelity=(MIN, MAX)` searches by successive halving (`brackets=1`) or Hyperband
    (`brackets=None`: all of its brackets) from MIN to MAX epochs of the child recipe (of
    `child.epoch_examples` examples when set), with `eta` and `algorithm` as the proposer
    (`oracles.multi_fidelity.NASSuccessiveHalvingOracle`); `child.epochs` is replaced by MAX,
    so that the learning-rate decay and the drop-path ramp span the highest fidelity and a
    promoted child continues its parent's training. `max_trials` then counts trainings (one
    per candidate and rung). The best architecture is the best result at the highest fidelity
    reached, written with that fidelity to best_fidelity.json.

    Args:
        strategy: `tf.distribute.Strategy` for each child (batch sizes are global).
        final_strategy: `tf.distribute.Strategy` for the final model.
        final_callbacks: Keras callbacks for the final model's training (e.g. one that stops
            it at a deadline).
        oracle_kwargs: more `NASOracle` arguments (with `fidelity`: the controller and
            evolution settings among them, and `preset`, `reward`, `worker_timeout`).

    Returns:
        A `SearchResult` (None on a worker); files are written as the module docstring lists.

    Raises:
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
        ValueError: no trial completed, or a bad setting.
    """
    from .distributed.server import current_role

    evaluation, max_time = _checked_arguments(
        max_trials, evaluation, prefilter, latency_target_ms, latency_quantize, max_time
    )
    max_memory = parse_size(max_memory)
    fidelity = _checked_fidelity(fidelity, evaluation)
    if fidelity is not None:
        child = child.replace(epochs=fidelity[1])
    role = current_role()
    space = SearchSpace() if space is None else space
    reward = _latency_reward(latency_target_ms, latency_alpha, latency_beta, oracle_kwargs)
    loaded = _load_data(dataset, data_dir, validation_size, child)
    params_target = _child_params_target(child_params, evaluation, loaded, child)
    hypermodel = NASNetHyperModel(
        space,
        loaded.info.image_shape,
        loaded.info.num_classes,
        child,
        steps_per_epoch=loaded.steps_per_epoch,
        seed=seed,
        strategy=strategy,
        params_target=params_target,
    )
    # At matched parameters the prefilter scores each child at the F it will train at.
    filters = hypermodel.filters if params_target is not None else None
    proxy, prefilter_score = _proxy_scorers(
        evaluation, prefilter, prefilter_proxy, loaded, child, seed, filters
    )
    common = {
        "space": space,
        "objective": _objective(evaluation.trains),
        "max_trials": max_trials,
        "seed": seed,
        "monitors": default_monitors(directory) if role != "worker" else [],
        "prefilter": prefilter,
        "prefilter_score": prefilter_score,
        "max_time": max_time,
        "recipe": _reward_recipe(
            loaded, child, params_target, reward, final, latency_quantize, oracle_kwargs
        ),
    }
    if fidelity is None:
        oracle = NASOracle(
            algorithm=algorithm, evaluation=str(evaluation), **common, **oracle_kwargs
        )
    else:
        oracle = _multi_fidelity_oracle(algorithm, fidelity, eta, brackets, common, oracle_kwargs)
    tuner = NASTuner(
        oracle,
        hypermodel,
        verbose=verbose,
        max_memory=max_memory,
        latency=_child_latency(reward, loaded, final, latency_quantize),
        proxy=proxy,
        directory=directory,
        project_name=PROJECT_NAME,
        overwrite=overwrite and role != "worker",  # a worker may share the chief's directory
    )
    if role == "worker":
        tuner.search(loaded.train, loaded.validation)
        return None
    if verbose:
        budget = f"{max_trials} trials" + ("" if max_time is None else f" or {max_time:g} s")
        evaluated = _evaluated_text(evaluation, child, prefilter, prefilter_proxy, oracle)
        _announce(oracle.algorithm, space, loaded, f"{budget} on", evaluated, directory, role)
        _announce_reward(reward, latency_quantize)
    tuner.search(loaded.train, loaded.validation)
    history = SearchHistory.from_oracle(oracle)
    _report_time_budget(oracle, max_trials, max_time, verbose)
    candidate = None
    if fidelity is None:
        best, best_reward = history.best()
    else:
        candidate = _best_candidate(oracle)
        best, best_reward = oracle.architecture(candidate["result_trial_id"]), candidate["reward"]
    atomic_write(os.path.join(directory, BEST_FILE), best.to_json(indent=2).encode())
    if candidate is not None:
        text = json.dumps(candidate, indent=2)
        atomic_write(os.path.join(directory, BEST_FIDELITY_FILE), text.encode())
    result = SearchResult(history, best, best_reward, None, directory, reward)
    result.best_candidate = candidate
    if final is not None:
        result.final = _train_final(
            result, loaded, final, seed, final_strategy, verbose, final_callbacks
        )
        if export_tflite:
            _export_final(result, verbose)
    write_search_reports(result, oracle)
    return result


@dataclass
class _Data:
    """The dataset as a search reads it: its info, splits, and tf.data pipelines."""

    name: str
    data_dir: Optional[str]
    info: object
    train_split: str
    validation_split: str
    steps_per_epoch: int
    train: object  # data seed -> tf.data.Dataset
    validation: object


def _checked_arguments(
    max_trials, evaluation, prefilter, latency_target_ms, latency_quantize, max_time
):
    """Returns (the parsed `evaluation`, `max_time` in seconds or None) after checking the
    arguments that go with them.

    Raises:
        ValueError: a bad count or duration, evaluation "shared" (that is
            `enas.search_shared`), or a latency target with an evaluation that trains no child.
    """
    check_int(max_trials, "max_trials", minimum=1)  # keras-tuner reads 0 as "no limit"
    evaluation = parse_evaluation(evaluation)
    evaluation.refuse_shared("search_dataset")
    check_int(prefilter, "prefilter", minimum=1)
    max_time = parse_duration(max_time, "max_time")
    check_choice(latency_quantize, "latency_quantize", (None, "int8"))  # None: float
    if not evaluation.trains and latency_target_ms is not None:
        raise ValueError(
            f"`latency_target_ms` weighs a trained accuracy; it does not apply to evaluation "
            f"{str(evaluation)!r}."
        )
    return evaluation, max_time


def _checked_fidelity(fidelity, evaluation) -> Optional[tuple]:
    """Returns `fidelity` as (min, max) ints, or None.

    Raises:
        TypeError: `fidelity` is not a pair of ints.
        ValueError: a fidelity below 1, min above max, or an evaluation that trains no child.
    """
    if fidelity is None:
        return None
    if not isinstance(fidelity, (tuple, list)) or len(fidelity) != 2:
        raise TypeError(
            f"`fidelity` must be (min_fidelity, max_fidelity), two ints; received {fidelity!r}."
        )
    low = check_int(fidelity[0], "min_fidelity", minimum=1)
    high = check_int(fidelity[1], "max_fidelity", minimum=low)
    if not evaluation.trains:
        raise ValueError(
            f"`fidelity` sets how long each child trains; evaluation {str(evaluation)!r} "
            "trains none."
        )
    return low, high


def _multi_fidelity_oracle(algorithm, fidelity, eta, brackets, common, oracle_kwargs):
    """Returns the `NASSuccessiveHalvingOracle` of `search_dataset(fidelity=...)`: `algorithm`
    proposes, the schedule runs until `max_trials` or `max_time`."""
    kwargs = dict(oracle_kwargs)
    settings = {key: kwargs.pop(key) for key in list(kwargs) if key in PROPOSER_SETTINGS}
    if "controller_units" in kwargs:  # NASOracle's name of the controller's "units"
        settings["units"] = kwargs.pop("controller_units")
    return NASSuccessiveHalvingOracle(
        proposer=algorithm,
        min_fidelity=fidelity[0],
        max_fidelity=fidelity[1],
        eta=eta,
        brackets=brackets,
        iterations=None,
        proposer_settings={k: v for k, v in settings.items() if v is not None},
        **common,
        **kwargs,
    )


def _best_candidate(oracle) -> dict:
    """Returns the best candidate of a multi-fidelity search (its result at the highest
    fidelity it reached) with "max_fidelity" added. Raises ValueError if none completed."""
    candidates = oracle.candidates()
    if not candidates:
        raise ValueError("No trial of this search completed, so there is no best architecture.")
    return {**candidates[0], "max_fidelity": oracle.schedule.max_fidelity}


def _latency_reward(target_ms, alpha, beta, oracle_kwargs: dict) -> Optional[MnasNetReward]:
    """Returns MnasNet's reward for `target_ms` (None without a target) and puts it among
    `oracle_kwargs`. Raises ValueError if they already hold a reward."""
    if target_ms is None:
        return None
    if "reward" in oracle_kwargs:
        raise ValueError("Pass either `latency_target_ms` or an oracle `reward`, not both.")
    reward = MnasNetReward(target_ms, alpha, beta, accuracy=OBJECTIVE)
    oracle_kwargs["reward"] = reward.from_trial
    return reward


def _reward_recipe(
    loaded: _Data, child, params_target, reward, final, quantize, oracle_kwargs: dict
) -> dict:
    """Returns what a trial's reward depends on beyond its cell, for the oracle to record and
    to check on a resume (a resumed search whose children train otherwise would rank new
    rewards against saved ones of another scale); a caller's own `recipe` among
    `oracle_kwargs` joins it under "caller"."""
    recipe = {
        "dataset": loaded.name,
        "train_split": loaded.train_split,
        "validation_split": loaded.validation_split,
        "child": child.to_dict(),
        "child_params": params_target,
    }
    if reward is not None:
        size = FINAL_SETTINGS if final is None else final
        recipe["latency"] = {
            "target_ms": reward.target_ms,
            "alpha": reward.alpha,
            "beta": reward.beta,
            "quantize": quantize,
            "num_blocks": size.num_blocks,
            "filters": size.filters,
        }
    return with_caller_recipe(recipe, oracle_kwargs)


def _load_data(dataset, data_dir, validation_size, child: TrainingSettings) -> _Data:
    """Returns the training part (augmented, in `child`'s batches; a function of the trial's
    data seed) and the held-out part."""
    from .. import data

    info = data.info(dataset, data_dir)
    train_split, validation_split = data.holdout_splits(dataset, validation_size, data_dir)
    n_train = data.num_examples(dataset, train_split, data_dir)
    return _Data(
        name=dataset,
        data_dir=data_dir,
        info=info,
        train_split=train_split,
        validation_split=validation_split,
        steps_per_epoch=child.steps_per_epoch(n_train),
        # Each trial's child trains on the pipeline of its own seed (`trial_seed`).
        train=data.seeded_loader(
            dataset,
            train_split,
            data_dir,
            batch_size=child.batch_size,
            augment=True,
            cutout=child.cutout,
        ),
        validation=data.load(dataset, validation_split, data_dir, batch_size=256, augment=False),
    )


def _child_params_target(child_params, evaluation, loaded: _Data, child) -> Optional[int]:
    """Returns the parameter count `child_params` asks each child to match, or None.

    Raises:
        ValueError: an evaluation that trains no child, a count below 1, or an unknown
            architecture name.
    """
    if child_params is None:
        return None
    if not evaluation.trains:
        raise ValueError(
            f"`child_params` sets the size of trained children; evaluation {str(evaluation)!r} "
            "trains none."
        )
    if not isinstance(child_params, (str, Architecture)):  # a count; check_int says what is wrong
        return check_int(child_params, "child_params", minimum=1)
    from ..filter_matching import cell_counter
    from ..genotypes import get_architecture

    architecture = get_architecture(child_params)
    count = cell_counter(loaded.info.image_shape, loaded.info.num_classes, child)
    return count(architecture, child.filters)[0]


def _proxy_scorers(
    evaluation, prefilter: int, prefilter_proxy: str, loaded: _Data, child, seed, filters=None
):
    """Returns (the proxy that scores each trial or None, the prefilter's scorer or None),
    both on one minibatch of the training part; `filters`: see `ProxyScorer`."""
    if evaluation.trains and prefilter == 1:
        return None, None
    images, labels = proxy_minibatch(
        loaded.name, loaded.train_split, PROXY_BATCH_SIZE, seed, loaded.data_dir
    )

    def scorer(name):
        return ProxyScorer(name, images, labels, loaded.info.num_classes, child, seed, filters)

    proxy = None if evaluation.trains else scorer(evaluation.argument)
    prefilter_score = None
    if prefilter > 1:
        same = proxy is not None and evaluation.argument == prefilter_proxy
        prefilter_score = proxy if same else scorer(prefilter_proxy)
    return proxy, prefilter_score


def _child_latency(reward, loaded: _Data, final, quantize):
    """Returns the function that times a child at the final model's size (None without a
    latency reward)."""
    if reward is None:
        return None
    from .evaluators.latency import architecture_latency_ms

    return functools.partial(
        architecture_latency_ms,
        input_shape=loaded.info.image_shape,
        classes=loaded.info.num_classes,
        settings=FINAL_SETTINGS if final is None else final,
        runs=CHILD_LATENCY_RUNS,
        quantize=quantize,
    )


def _evaluated_text(evaluation, child, prefilter: int, prefilter_proxy: str, oracle=None) -> str:
    """Returns how each trial is evaluated, in words."""
    schedule = getattr(oracle, "schedule", None)
    if schedule is not None:
        rungs = " | ".join(
            " -> ".join(f"{r.candidates}@{r.fidelity}" for r in bracket.rungs)
            for bracket in schedule.brackets
        )
        text = (
            f"children {child.num_blocks}@F{child.filters} by successive halving over epochs "
            f"(eta {schedule.eta}; candidates@epochs: {rungs})"
        )
        if child.epoch_examples is not None:
            text += f", epochs of {child.epoch_examples:,} examples"
    elif evaluation.trains:
        text = f"children {child.num_blocks}@F{child.filters} for {child.epochs} epochs"
        if child.epoch_examples is not None:
            text += f" of {child.epoch_examples:,} examples"
    else:
        text = (
            f"each child {child.num_blocks}@F{child.filters} scored untrained by "
            f"{evaluation.argument} on {PROXY_BATCH_SIZE} training images"
        )
    if prefilter > 1:
        text += f", the best of {prefilter} proposals by {prefilter_proxy}"
    return text


def _announce(algorithm, space, loaded: _Data, budget, evaluated, directory, role) -> None:
    print(
        f"search: {algorithm} over {len(space)} decisions (10^{space.log10_size:.0f} cell "
        f"pairs), {budget} {loaded.name} ({loaded.train_split} / {loaded.validation_split}), "
        f"{evaluated}; directory "
        f"{directory}" + ("; serving the oracle to workers" if role == "chief" else ""),
        flush=True,
    )


def _announce_reward(reward: Optional[MnasNetReward], quantize: Optional[str]) -> None:
    if reward is not None:
        print(
            f"search: reward = val_accuracy * ({quantize or 'float'} latency / "
            f"{reward.target_ms:g} ms) ** "
            f"({reward.alpha:g} if under the target else {reward.beta:g})",
            flush=True,
        )


def _report_time_budget(oracle, max_trials: int, max_time, verbose) -> None:
    if verbose and oracle.out_of_time() and len(oracle.trials) < max_trials:
        print(
            f"search: time budget of {max_time:g} s spent ({oracle.elapsed():.0f} s over all "
            f"runs) after {len(oracle.trials)} of {max_trials} trials; run again with a larger "
            "max_time to go on",
            flush=True,
        )


def _train_final(result: SearchResult, loaded: _Data, final, seed, strategy, verbose, callbacks=()):
    """Trains the best architecture from scratch on the whole training split (or
    `final.epoch_examples` of it per epoch); returns its TrainResult."""
    if verbose:
        part = "the whole training split"
        if final.epoch_examples is not None:
            part = f"{final.epoch_examples:,} examples of the training split per epoch"
        print(
            f"final: best architecture (reward {result.best_reward:.4f}), "
            f"{final.num_blocks}@F{final.filters} for {final.epochs} epochs on {part}",
            flush=True,
        )
    trained = train(
        result.best_architecture,
        loaded.name,
        final,
        data_dir=loaded.data_dir,
        output=os.path.join(result.directory, FINAL_MODEL_FILE),
        seed=seed,
        strategy=strategy,
        callbacks=callbacks,
    )
    if verbose:
        print(
            f"final: test accuracy {trained.test_accuracy:.4f}, "
            f"{trained.metrics['params']:,} parameters -> {trained.path}",
            flush=True,
        )
    return trained


def _export_final(result: SearchResult, verbose: int) -> None:
    result.tflite_path, result.tflite_latency = export_final_model(
        result.final.model, result.directory, verbose
    )


def export_final_model(model, directory: str, verbose) -> tuple:
    """Returns (the path, its `export.Latency`) of `model` exported as the search directory's
    float final_model.tflite and timed at batch 1 on 1 thread (printed when `verbose`)."""
    from ..export import measure_latency, to_tflite

    path = to_tflite(model, os.path.join(directory, FINAL_TFLITE_FILE))
    latency = measure_latency(path, threads=1, runs=20)
    if verbose:
        print(
            f"final: {path}, {latency.size_bytes / 1e6:.2f} MB, batch-1 latency median "
            f"{latency.median_ms:.2f} ms (1 thread)",
            flush=True,
        )
    return path, latency


def _objective(trains: bool = True):
    import keras_tuner

    return keras_tuner.Objective(OBJECTIVE if trains else PROXY_METRIC, direction="max")


def load_summary(directory: str) -> dict:
    """Returns the best architecture and final metrics saved in a search directory."""
    from ..genotypes import read_architecture  # names the file in every error

    summary = {"best_architecture": read_architecture(os.path.join(directory, BEST_FILE))}
    metrics_path = os.path.join(directory, FINAL_MODEL_FILE + ".json")
    if os.path.exists(metrics_path):
        with open(metrics_path, encoding="utf-8") as f:
            summary["final"] = json.load(f)
    return summary
