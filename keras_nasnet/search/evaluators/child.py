"""Child networks: a keras-tuner HyperModel that builds the trial's NASNet, and the Tuner.

The objective is accuracy on a validation split the caller carves out of the training data
(`keras_nasnet.data.holdout_splits`); the test split never reaches the search.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import zlib
from typing import Callable, Optional

import keras
import keras_tuner

from ... import compat, training
from ...process_memory import check_bound, parse_size
from ...training import TrainingSettings
from ...validation import check_int, check_number
from ..distributed.auth import secure_worker_client
from ..distributed.server import current_role, serve
from ..reporting.monitors import default_monitors
from ..spaces.nasnet_cells import SearchSpace
from ..state import read_json_object
from .reward import ACCURACY_METRIC, LATENCY_METRIC, PARAMS_METRIC

logger = logging.getLogger("keras_nasnet.search")

OBJECTIVE = ACCURACY_METRIC
# The trial metric (and objective) of a search evaluated by a zero-cost proxy.
PROXY_METRIC = "proxy_score"
# Search-time children: the paper's N = 2, with F and epochs scaled down for small data and CPUs.
CHILD_SETTINGS = TrainingSettings(
    num_blocks=2, filters=8, epochs=5, batch_size=64, learning_rate=0.05
)
# keras-tuner Hyperband's values that carry a trial's fidelity (`oracles.multi_fidelity` sets
# them): the epoch to train to, the epoch the parent reached, and the parent trial.
FIDELITY_EPOCHS = "tuner/epochs"
FIDELITY_INITIAL_EPOCH = "tuner/initial_epoch"
FIDELITY_PARENT = "tuner/trial_id"
# The trial metric of a multi-fidelity trial: the epoch its training started from.
INITIAL_EPOCH_METRIC = "initial_epoch"
# Seconds between a distributed worker's "still alive" messages while it trains a child.
HEARTBEAT_SECONDS = 5.0
# Seconds a worker waits before asking again when the chief has no trial for it yet.
IDLE_WAIT_SECONDS = 1.0


# At a child's width (F of 5-12) one step of F changes the parameter count by 17-40%, so the
# closest F may miss a target by up to 20% (docs/benchmarks.md, the rank bench's
# main-child-matched).
CHILD_PARAMS_TOLERANCE = 0.25
# The trial metric of a child built at matched parameters: its F.
FILTERS_METRIC = "filters"


def trial_seed(seed: int, trial_id: str) -> int:
    """Returns the seed (31 bits) of trial `trial_id` in a search seeded with `seed`: of its
    training data and of every random op that has no seed of its own."""
    return zlib.crc32(f"{seed}:{trial_id}".encode()) & 0x7FFFFFFF


def seed_trial(seed: int, trial_id: str, train_data=None):
    """Seeds Python's, NumPy's, TensorFlow's and Keras' global generators with trial
    `trial_id`'s seed (`trial_seed`) and returns its training data: `train_data`, or
    `train_data(trial_seed(seed, trial_id))` when it is a function of a data seed
    (`keras_nasnet.data.seeded_loader`).

    Initializers without a seed draw from Keras' global generator, and tf.data's seeded
    shuffles also depend on TensorFlow's global seed: seeded per trial, a trial trains the same
    network on the same batches whatever the process ran before it.
    """
    own_seed = trial_seed(seed, trial_id)
    keras.utils.set_random_seed(own_seed)
    return train_data(own_seed) if callable(train_data) else train_data


class NASNetHyperModel(keras_tuner.HyperModel):
    """Builds the child NASNet of a trial from its decision values.

    Args:
        space: the `SearchSpace` whose decisions the trial holds.
        input_shape: image shape (h, w, c).
        classes: number of classes.
        settings: child training recipe (default: N = 2, F = 8, 5 epochs).
        steps_per_epoch: training steps per epoch (sets the cosine decay and drop-path ramp;
            with `settings.epoch_examples` set, also the batches each epoch takes).
        seed: seeds each child's weights.
        strategy: optional `tf.distribute.Strategy` each child is built, compiled and trained
            under (`settings.batch_size` is the global batch).
        params_target: if given, each child is built at the F whose parameter count (of the
            inference model, as `compare` counts) is closest to it, instead of
            `settings.filters`: children compared at one size, as `compare` judges cells,
            not rewarded for the size of their ops. A child with no F within
            `params_tolerance` fails its trial.
    """

    def __init__(
        self,
        space: SearchSpace,
        input_shape,
        classes: int,
        settings: TrainingSettings = CHILD_SETTINGS,
        steps_per_epoch: int = 100,
        seed: int = 0,
        strategy=None,
        params_target: Optional[int] = None,
        params_tolerance: float = CHILD_PARAMS_TOLERANCE,
    ):
        super().__init__(name="nasnet_child", tunable=True)
        self.space = space
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.settings = settings
        self.steps_per_epoch = steps_per_epoch
        self.seed = seed
        self.strategy = strategy
        if params_target is not None:
            check_int(params_target, "params_target", minimum=1)
        self.params_target = params_target
        self.params_tolerance = check_number(
            params_tolerance, "params_tolerance", minimum=0, min_inclusive=False
        )
        self._filters: dict = {}

    def declare_hyperparameters(self, hp):
        self.space.declare(hp)

    def architecture(self, hp):
        """Returns the Architecture the values in `hp` describe."""
        self.space.declare(hp)
        return self.space.from_values(hp.values)

    def filters(self, architecture) -> int:
        """Returns the F the child of `architecture` is built at: `settings.filters`, or with
        `params_target` the matched F (found once per architecture: a few models built).

        Raises:
            keras_tuner.errors.FailedTrialError: no F within `params_tolerance` of the target.
        """
        if self.params_target is None:
            return self.settings.filters
        key = architecture.to_json()
        if key not in self._filters:
            from ...filter_matching import cell_counter, match_filters

            count = cell_counter(self.input_shape, self.classes, self.settings)
            try:
                match = match_filters(
                    lambda f: count(architecture, f),
                    self.params_target,
                    self.settings.filters,
                    self.params_tolerance,
                    label="the child",
                )
            except ValueError as error:  # this cell only: the search goes on
                raise keras_tuner.errors.FailedTrialError(str(error)) from None
            self._filters[key] = match.filters
        return self._filters[key]

    def build(self, hp):
        architecture = self.architecture(hp)
        return training.build_model(
            architecture,
            self.input_shape,
            self.classes,
            self.settings.replace(filters=self.filters(architecture)),
            self.steps_per_epoch,
            name="child",
            seed=self.seed,
            strategy=self.strategy,
        )

    def fit(self, hp, model, *args, **kwargs):
        try:
            return training.fit(model, *args, **kwargs)
        except training.DivergenceError as error:
            # FailedTrialError: recorded as failed at once, not retried; no reward.
            raise keras_tuner.errors.FailedTrialError(str(error)) from None


class NASTuner(keras_tuner.Tuner):
    """Trains each trial's child and reports its best validation accuracy to the oracle.

    Call `search(train_data, validation_data)` with tf.data datasets; `train_data` may also be
    a function of a data seed returning the dataset (`keras_nasnet.data.seeded_loader`), called
    with each trial's own seed (`trial_seed`), which also seeds Python's, NumPy's, TensorFlow's
    and Keras' global generators for the trial (`keras.utils.set_random_seed`): a trial's
    child then trains on the same batches after a resume or on any worker, whatever the
    process trained before it. Each
    finished trial prints one line (reward, parameters, time, best so far) unless `verbose=0`.

    In keras-tuner's distributed mode (`KERASTUNER_TUNER_ID`, `KERASTUNER_ORACLE_IP`,
    `KERASTUNER_ORACLE_PORT`) the chief's `search` serves the oracle until the search is over
    (`keras_nasnet.search.distributed.server.serve`), and a worker sends a heartbeat every
    `HEARTBEAT_SECONDS` while it trains a child, so the chief can tell a dead worker from a slow
    child.
    `latency(architecture) -> ms`, if given, is recorded as the trial metric "latency_ms"
    beside the accuracy (e.g. `evaluators.latency.architecture_latency_ms` at the final
    model's size), for a latency-aware reward such as `MnasNetReward`.
    An oracle given no `monitors` gets `search.monitors.default_monitors()` (TensorBoard events
    and report.html in the keras-tuner project's own directory).
    `proxy(architecture) -> float`, if given (e.g. `search.evaluation.ProxyScorer`), replaces
    training: the trial records that score as "proxy_score" (`PROXY_METRIC`, the objective to
    give the oracle) and its seconds as "proxy_seconds"; no child is trained or saved.
    A trial holding keras-tuner Hyperband's fidelity values (as `SuccessiveHalvingOracle`'s
    do) trains to ``tuner/epochs``; a promoted one (``tuner/trial_id``) first loads its parent
    trial's checkpoint, the optimizer's state included, and trains on from
    ``tuner/initial_epoch``, recording that epoch as the metric "initial_epoch". Give the
    hypermodel the highest fidelity as its `settings.epochs`: the cosine decay and the
    drop-path ramp span it, so a continued child follows the curve of one trained straight
    through.
    `max_memory` (bytes, or "8G"): after a trial that leaves the process holding more, once
    the trial is saved, `search` raises `keras_nasnet.process_memory.MemoryBoundReached`; the
    same search in a new process resumes after that trial (Keras keeps memory for every child
    a process trains; only a new process frees it).
    """

    def __init__(
        self,
        oracle,
        hypermodel: NASNetHyperModel,
        verbose: int = 1,
        latency: Optional[Callable] = None,
        proxy: Optional[Callable] = None,
        max_memory: Optional[int] = None,
        **kwargs,
    ):
        if proxy is not None and not callable(proxy):
            raise TypeError(f"`proxy` must be callable or None; received {proxy!r}.")
        self.max_memory = parse_size(max_memory)
        if getattr(oracle, "monitors", []) is None:
            oracle.monitors = default_monitors()
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        if (
            not kwargs.get("overwrite", False)
            and current_role() != "worker"
            and not os.path.exists(compat.tuner_file(self))
            and os.path.exists(compat.oracle_file(self.oracle))
        ):
            # A search saved without this tuner's file (by `search.run`, by another role, or
            # the file was lost): keras-tuner reloads only through that file and would start a
            # new search over the saved trials. Resume it, or refuse it as another search.
            self.oracle.reload()
        # A worker sends KERAS_NASNET_SECRET (see distributed/auth.py).
        secure_worker_client(self.oracle)
        self.verbose = verbose
        self.latency = latency
        self.proxy = proxy
        self._trial_start = {}
        self._heartbeat: Optional[_Heartbeat] = None
        self._asked_without_trial = False

    def reload(self):
        # keras-tuner reads its own file with a bare json.load: name a truncated one first.
        read_json_object(compat.tuner_file(self), "tuner state")
        super().reload()

    def run_trial(self, trial, train_data, validation_data, **kwargs):
        hp = trial.hyperparameters
        if self.proxy is not None:  # a proxy scores random initial weights: seeded, no data
            seed_trial(self.hypermodel.seed, trial.trial_id)
            return self._score_by_proxy(hp)
        train_data = seed_trial(self.hypermodel.seed, trial.trial_id, train_data)
        model = self._try_build(hp)
        start = time.perf_counter()
        settings = self.hypermodel.settings
        epochs, initial_epoch = self._fidelity(hp, model, train_data)
        history = self.hypermodel.fit(
            hp,
            model,
            train_data,
            epochs=epochs - initial_epoch,
            validation_data=validation_data,
            # A fraction of an epoch: the first batches of each fresh shuffle.
            steps_per_epoch=None
            if settings.epoch_examples is None
            else self.hypermodel.steps_per_epoch,
        )
        seconds = time.perf_counter() - start
        accuracies = history.history.get(OBJECTIVE, [])
        accuracy = max(accuracies) if accuracies else float("nan")
        if not math.isfinite(accuracy):
            raise keras_tuner.errors.FailedTrialError(f"No finite {OBJECTIVE}: {accuracies}.")
        self.save_model(trial.trial_id, model)
        metrics = {
            OBJECTIVE: accuracy,
            PARAMS_METRIC: float(model.count_params()),
            "train_seconds": seconds,
        }
        if FIDELITY_EPOCHS in hp.values:
            metrics[INITIAL_EPOCH_METRIC] = float(initial_epoch)
        if self.hypermodel.params_target is not None:  # the F this child was matched at
            metrics[FILTERS_METRIC] = float(
                self.hypermodel.filters(self.hypermodel.architecture(hp))
            )
        if self.latency is not None:
            metrics[LATENCY_METRIC] = float(self.latency(self.hypermodel.architecture(hp)))
        return metrics

    def _fidelity(self, hp, model, train_data) -> tuple[int, int]:
        # (epochs, initial epoch) of a multi-fidelity trial (`oracles.multi_fidelity`): a
        # promoted one continues its parent's checkpoint, optimizer state included, so the
        # cosine decay and the drop-path ramp (both built for the highest fidelity) go on
        # where the parent stopped. A trial without those values trains the recipe's epochs.
        values = hp.values
        planned = self.hypermodel.settings.epochs
        epochs = int(values.get(FIDELITY_EPOCHS, planned))
        if epochs > planned:
            # The cosine decay would reach zero at `planned` epochs and train on at rate 0.
            raise keras_tuner.errors.FatalValueError(
                f"A trial asks for {FIDELITY_EPOCHS}={epochs}, beyond the hypermodel's "
                f"settings.epochs ({planned}) that its schedules span; give the hypermodel "
                "settings with epochs = the highest fidelity."
            )
        parent = values.get(FIDELITY_PARENT)
        if parent is None:
            return epochs, 0
        checkpoint = self._get_checkpoint_fname(parent)
        if not os.path.exists(checkpoint):
            # e.g. removed by hand: train this fidelity from scratch rather than fail.
            logger.warning(
                "keras-nasnet: trial %s's checkpoint %s is missing; training from scratch.",
                parent,
                checkpoint,
            )
            return epochs, 0
        # The optimizer's variables must exist for `load_weights` to fill them (the
        # checkpoint holds them beside the model's); `training.fit` then skips this build.
        spec = training.with_aux_targets(train_data, model).element_spec
        compat.build_training_state(model, spec)
        model.load_weights(checkpoint)
        return epochs, int(values.get(FIDELITY_INITIAL_EPOCH, 0))

    def _score_by_proxy(self, hp) -> dict:
        start = time.perf_counter()
        score = float(self.proxy(self.hypermodel.architecture(hp)))
        if not math.isfinite(score):  # e.g. NASWOT's singular kernel: no reward, next trial
            raise keras_tuner.errors.FailedTrialError(f"The proxy's score is {score}.")
        return {PROXY_METRIC: score, "proxy_seconds": time.perf_counter() - start}

    def save_model(self, trial_id, model, step=0):
        # Where keras-tuner's `load_model` / `get_best_models` look for the weights.
        model.save_weights(self._get_checkpoint_fname(trial_id))

    def pre_create_trial(self):
        # Called before every create_trial; twice in a row means the chief answered IDLE.
        if self._asked_without_trial:
            time.sleep(IDLE_WAIT_SECONDS)
        self._asked_without_trial = True

    def on_trial_begin(self, trial):
        self._asked_without_trial = False
        super().on_trial_begin(trial)
        self._trial_start[trial.trial_id] = time.perf_counter()
        if self._is_worker():
            self._heartbeat = _Heartbeat(self.oracle, trial.trial_id, HEARTBEAT_SECONDS)

    def on_trial_end(self, trial):
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        super().on_trial_end(trial)
        if self.verbose:
            seconds = time.perf_counter() - self._trial_start.pop(
                trial.trial_id, time.perf_counter()
            )
            print(trial_line(self.oracle, trial.trial_id, seconds), flush=True)
        check_bound(self.max_memory, trial.trial_id)  # the trial is saved: a new process resumes

    def search(self, *args, **kwargs):
        kwargs.setdefault("verbose", 0)  # keras-tuner's own per-trial table is 50 rows long
        if current_role() == "chief":
            # keras-tuner's chief loop polls every 20 s and cannot notice a dead worker.
            self.oracle.verbose = kwargs["verbose"]
            self.save()
            serve(self.oracle, on_result=self._print_result if self.verbose else None)
            return
        return super().search(*args, **kwargs)

    def _print_result(self, trial_id: str) -> None:
        print(trial_line(self.oracle, trial_id), flush=True)


class _Heartbeat:
    """Calls `oracle.update_trial(trial_id, {})` every `seconds` from a daemon thread until
    stopped.
    """

    def __init__(self, oracle, trial_id: str, seconds: float):
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(oracle, trial_id, seconds),
            name=f"heartbeat-{trial_id}",
            daemon=True,
        )
        self._thread.start()

    def _run(self, oracle, trial_id, seconds):
        while not self._stopped.wait(seconds):
            try:
                oracle.update_trial(trial_id, {})
            except Exception:  # the chief is gone or busy: the main loop will find out
                pass

    def stop(self):
        self._stopped.set()


def trial_line(oracle, trial_id: str, seconds: Optional[float] = None) -> str:
    """Returns the one-line summary of a finished trial: reward, params, time, best so far."""
    trial = oracle.get_trial(trial_id)
    best = oracle.get_best_trials(1)
    best_text = "-"
    if best and best[0].score is not None:
        best_text = f"{best[0].score:.4f} (trial {best[0].trial_id})"
    if trial.status != "COMPLETED":
        reason = (trial.message or "").strip().splitlines()
        return f"trial {trial_id}  FAILED  {reason[-1] if reason else ''}  best {best_text}"
    params = (
        trial.metrics.get_last_value(PARAMS_METRIC) if trial.metrics.exists(PARAMS_METRIC) else None
    )
    parts = [f"trial {trial_id}", f"reward {trial.score:.4f}"]  # NASOracle scores with its reward
    if trial.metrics.exists(LATENCY_METRIC):  # the reward is then not the accuracy alone
        parts.append(f"{OBJECTIVE} {trial.metrics.get_best_value(OBJECTIVE):.4f}")
        parts.append(f"latency {trial.metrics.get_last_value(LATENCY_METRIC):.2f}ms")
    if params is not None:
        parts.append(f"params {int(params):,}")
    if seconds is not None:
        parts.append(f"time {seconds:.1f}s")
    parts.append(f"best {best_text}")
    return "  ".join(parts)
