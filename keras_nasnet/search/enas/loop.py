"""Weight-sharing search (ENAS, Pham et al. 2018) with the package's controller and learner.

Each epoch: the shared weights of a `Supernet` train on the training split, one
controller-sampled architecture per minibatch; then the controller takes `controller_steps`
policy steps, the reward of each sample being its accuracy on a validation minibatch under the
shared weights (batch norm on batch statistics, as ENAS). The state (shared weights and their
optimizer's slots, the controller and its learner, the data order's random state, the epoch and
the history) is written atomically after every epoch, so a killed search resumes from the last
finished epoch. Derive (ENAS): sample `derive_samples` architectures, score each on the whole
validation split with the shared weights, keep the best, write `best_architecture.json`, train
it from scratch as `keras-nasnet search` does (`training.train`) and report.

Layout of the search directory:

    enas/state.json          epoch, history, learner state, random state (the commit point)
    enas/arrays-<epoch>.npz  shared weights, their optimizer slots, controller and its optimizer
    enas/history.json        per epoch: shared loss/accuracy, controller reward, timings
    tensorboard/enas/        the same per epoch (shared/loss, shared/accuracy, controller/reward)
    best_architecture.json   the derived cell pair
    derive.json              each derived sample's validation accuracy with shared weights
    final_model.keras(.json) the derived cell trained from scratch (unless final is None)
    report_enas.html         the per-epoch curves and the derived cells
"""

from __future__ import annotations

import io
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from ...validation import check_bool, check_int
from ..clock import Stopwatch, parse_duration
from ..lock import locks_directory
from ..spaces.nasnet_cells import SearchSpace
from ..state import TENSORBOARD_DIR, CorruptStateError, atomic_write, read_json_object, verify_npz
from .report import write_report
from .supernet import Supernet, enas_space
from .trainer import SharedSettings, SharedTrainer

STATE_DIR = "enas"
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays-{:06d}.npz"
HISTORY_FILE = "history.json"
DERIVE_FILE = "derive.json"


@dataclass
class EnasResult:
    """What `search_shared` produced."""

    best_architecture: object
    best_accuracy: float
    history: list
    derived: list
    directory: str
    final: Optional[object] = None
    seconds: dict = field(default_factory=dict)


class EnasSearch:
    """The ENAS loop over in-memory arrays, saving its state into `directory`/enas.

    Args:
        space: a shareable `SearchSpace` (default `enas_space()`).
        train_data, validation_data: (images float32 [N, h, w, c] scaled, labels int [N]).
        classes: the number of classes.
        directory: where the state is written (and read back to resume).
        settings: `SharedSettings`.
        seed: seeds the supernet, the controller and the data order.
        on_epoch: called with each epoch's record after its state is saved (for tests).
        clock: seconds now (default `time.monotonic`); `elapsed()` counts with it.
        data_source: what `train_data` and `validation_data` were drawn from, as JSON
            ({"dataset", "validation_size"} from `search_shared`): saved with the state, a
            resume on other data is refused, and whoever scores cells with the saved shared
            weights can check they score the images the supernet trained on. None: not
            recorded (arrays a caller made itself) and not checked.
        strategy: a `tf.distribute.Strategy` the shared weights train under (the supernet is
            built in its scope; `settings.batch_size` is the global batch and must be a
            multiple of the replicas); the controller and the evaluations run on one device.
    """

    def __init__(
        self,
        train_data,
        validation_data,
        classes: int,
        directory: str,
        space: Optional[SearchSpace] = None,
        settings: SharedSettings = SharedSettings(),
        seed: int = 0,
        on_epoch: Optional[Callable[[dict], None]] = None,
        verbose: int = 0,
        strategy=None,
        clock: Optional[Callable[[], float]] = None,
        data_source: Optional[dict] = None,
    ):
        import contextlib

        from ...distribute import num_replicas
        from ..proposers.controller import Controller
        from ..proposers.policy import PolicyLearner

        if not isinstance(settings, SharedSettings):
            raise TypeError(f"`settings` must be SharedSettings; received {settings!r}.")
        self.seed = check_int(seed, "seed")
        self.space = enas_space() if space is None else space
        self.settings = settings
        if data_source is not None and not isinstance(data_source, dict):
            raise TypeError(f"`data_source` must be a dict or None; received {data_source!r}.")
        self.data_source = data_source
        self.train_x, self.train_y = _checked(train_data, "train_data")
        self.val_x, self.val_y = _checked(validation_data, "validation_data")
        self.directory = directory
        self.on_epoch = on_epoch
        self.verbose = verbose
        self._stopwatch = Stopwatch(time.monotonic if clock is None else clock)
        replicas = num_replicas(strategy)
        if settings.batch_size % replicas:
            raise ValueError(
                f"batch_size {settings.batch_size} is the global batch: it must be a multiple "
                f"of the strategy's {replicas} replicas."
            )
        scope = strategy.scope() if replicas > 1 else contextlib.nullcontext()
        with scope:
            self.supernet = self._build_supernet(classes, seed)
        self.trainer = SharedTrainer(
            self.supernet,
            settings.learning_rate,
            settings.momentum,
            settings.clipnorm,
            strategy=strategy,
        )
        self.controller = Controller(
            self.space,
            temperature=settings.temperature,
            tanh_constant=settings.tanh_constant,
            seed=seed,
        )
        self.learner = PolicyLearner(
            self.controller,
            algorithm=settings.algorithm,
            learning_rate=settings.controller_learning_rate,
            entropy_weight=settings.entropy_weight,
            baseline_decay=settings.baseline_decay,
            update_every=1,
        )
        self.rng = np.random.default_rng([seed, 2])
        self.epoch = 0
        self.history: list[dict] = []
        self.resumed = self._restore()

    def _build_supernet(self, classes: int, seed: int) -> Supernet:
        s = self.settings
        return Supernet(
            self.space,
            input_shape=self.train_x.shape[1:],
            classes=classes,
            filters=s.filters,
            num_cells=s.num_cells,
            stem=s.stem,
            stem_filters=s.stem_filters,
            seed=seed,
        )

    # -- the loop ----------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Returns the seconds this search has run, over all its runs (saved with the state)."""
        return self._stopwatch.elapsed()

    def run(self, epochs: int, max_time=None) -> list:
        """Runs epochs until `epochs` are done in total (a resumed search continues), or until
        `max_time` (seconds or a string such as "1h", over all runs of the search) is spent:
        then no new epoch starts. Returns the history (one record per epoch)."""
        epochs = check_int(epochs, "epochs", minimum=1)
        max_time = parse_duration(max_time)
        while self.epoch < epochs:
            if self._stopwatch.spent(max_time):
                if self.verbose:
                    print(
                        f"enas: the time budget ({max_time:.0f} s) is spent after epoch "
                        f"{self.epoch} ({self.elapsed():.0f} s); no new epoch starts.",
                        flush=True,
                    )
                break
            record = self.run_epoch()
            if self.on_epoch is not None:
                self.on_epoch(record)
        return self.history

    def run_epoch(self) -> dict:
        """Trains the shared weights for one pass, then the controller; saves the state;
        returns the epoch's record."""
        s = self.settings
        start = time.perf_counter()
        order = self.rng.permutation(len(self.train_x))
        losses, accuracies = [], []
        for first in range(0, len(order) - s.batch_size + 1, s.batch_size):
            batch = order[first : first + s.batch_size]
            sample = self.controller.sample()
            loss, accuracy = self.trainer.train_step(
                self.train_x[batch], self.train_y[batch], sample.actions
            )
            losses.append(loss)
            accuracies.append(accuracy)
        shared_seconds = time.perf_counter() - start
        start = time.perf_counter()
        rewards = []
        for _ in range(s.controller_steps):
            batch = self.rng.integers(0, len(self.val_x), size=s.batch_size)
            sample = self.controller.sample()
            _, reward = self.trainer.evaluate(self.val_x[batch], self.val_y[batch], sample.actions)
            rewards.append(reward)
            self.learner.observe(sample.actions, sample.log_prob, reward)
        controller_seconds = time.perf_counter() - start
        self.epoch += 1
        record = {
            "epoch": self.epoch,
            "shared_loss": float(np.mean(losses)) if losses else None,
            "shared_accuracy": float(np.mean(accuracies)) if accuracies else None,
            "controller_reward": float(np.mean(rewards)),
            "baseline": self.learner.baseline,
            "train_steps": len(losses),
            "shared_seconds": shared_seconds,
            "controller_seconds": controller_seconds,
        }
        self.history.append(record)
        self.save()
        if self.verbose:
            print(
                f"enas: epoch {self.epoch}: shared loss {_figure(record['shared_loss'])} "
                f"accuracy {_figure(record['shared_accuracy'])}; controller reward "
                f"{record['controller_reward']:.4f} ({shared_seconds:.1f} s + "
                f"{controller_seconds:.1f} s)",
                flush=True,
            )
        return record

    def derive(self, samples: Optional[int] = None) -> list:
        """Samples `samples` architectures (default `settings.derive_samples`), scores each on
        the whole validation split with the shared weights; returns [(accuracy, sample)],
        best first."""
        samples = check_int(
            self.settings.derive_samples if samples is None else samples, "samples", minimum=1
        )
        scored = []
        for _ in range(samples):
            sample = self.controller.sample()
            accuracy = self.trainer.evaluate_all(
                self.val_x, self.val_y, sample.actions, self.settings.batch_size
            )
            scored.append((accuracy, sample))
        scored.sort(key=lambda item: -item[0])
        return scored

    # -- state -------------------------------------------------------------------------------

    def _state_dir(self) -> str:
        return os.path.join(self.directory, STATE_DIR)

    def save(self) -> None:
        """Writes the state atomically: the arrays under a new name, then state.json naming
        them (the commit point), then the older arrays are removed."""
        folder = self._state_dir()
        os.makedirs(folder, exist_ok=True)
        arrays = {**self.trainer.get_arrays(), **self.learner.get_arrays()}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        name = ARRAYS_FILE.format(self.epoch)
        atomic_write(os.path.join(folder, name), buffer.getvalue())
        state = {
            "epoch": self.epoch,
            "arrays": name,
            "history": self.history,
            "learner": self.learner.get_state(),
            "rng": self.rng.bit_generator.state,
            "space": self.space.get_config(),
            "settings": asdict(self.settings),
            "seed": self.seed,
            "elapsed_seconds": self.elapsed(),
        }
        if self.data_source is not None:
            state["data_source"] = self.data_source
        atomic_write(os.path.join(folder, STATE_FILE), json.dumps(state).encode())
        atomic_write(
            os.path.join(folder, HISTORY_FILE), json.dumps(self.history, indent=1).encode()
        )
        for other in os.listdir(folder):
            if other.startswith("arrays-") and other != name:
                os.remove(os.path.join(folder, other))
        _write_scalars(self.directory, self.history[-1:])

    def _restore(self) -> bool:
        """Restores the saved state, if any; returns whether there was one.

        Raises:
            CorruptStateError: a state file is truncated, corrupt or of the wrong shape (the
                message names it).
            ValueError: the directory holds a search of another space or settings.
        """
        path = os.path.join(self._state_dir(), STATE_FILE)
        if not os.path.lexists(path):
            return False
        state = read_state(path)
        if state["space"] != self.space.get_config() or state["settings"] != asdict(self.settings):
            raise ValueError(
                f"{path} holds a search with another space or settings; use another directory, "
                "or start over with overwrite=True (--overwrite)."
            )
        check_data_source(state, self.data_source, path)
        arrays_path = os.path.join(self._state_dir(), state["arrays"])
        verify_npz(arrays_path, "ENAS weights")
        with np.load(arrays_path, allow_pickle=False) as loaded:
            arrays = {k: loaded[k] for k in loaded.files}
        try:
            self.trainer.set_arrays(arrays)
            self.learner.set_state(state["learner"], arrays)
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError, ValueError) as error:
            raise CorruptStateError(
                f"The ENAS state in {path!r} and {arrays_path!r} does not fit this search "
                f"({error}); {_ADVICE}."
            ) from None
        self.epoch = state["epoch"]
        self.history = state["history"]
        self._stopwatch.restore(state.get("elapsed_seconds", 0.0))  # older states lack it
        return True


_ADVICE = "restore it from a copy, or start over with overwrite=True (--overwrite)"
# Key of state.json -> (the type it holds, what it is).
_STATE_FIELDS = {
    "epoch": (int, "an epoch count"),
    "arrays": (str, "the name of the weights file beside it"),
    "history": (list, "a list of epoch records"),
    "learner": (dict, "the controller learner's state"),
    "rng": (dict, "a random generator's state"),
    "space": (dict, "a search space's config"),
    "settings": (dict, "the SharedSettings"),
}


def read_state(path: str) -> dict:
    """Returns the ENAS state saved in the JSON file at `path`.

    Raises:
        CorruptStateError: unreadable, truncated, not JSON, or without a field of the right
            type; the message names the file.
    """
    state = read_json_object(path, "ENAS state")
    for key, (kind, what) in _STATE_FIELDS.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = "missing" if key not in state else f"a JSON {type(value).__name__}"
            raise CorruptStateError(
                f"The ENAS state file {path!r} is of the wrong shape: {key!r} should be {what}, "
                f"found {found}; {_ADVICE}."
            )
    if state["epoch"] < 0 or os.path.basename(state["arrays"]) != state["arrays"]:
        raise CorruptStateError(
            f"The ENAS state file {path!r} holds epoch {state['epoch']!r} and weights file "
            f"{state['arrays']!r}: not a saved search; {_ADVICE}."
        )
    if not all(isinstance(record, dict) for record in state["history"]):
        raise CorruptStateError(
            f"The ENAS state file {path!r} is of the wrong shape: 'history' should hold epoch "
            f"records (JSON objects); {_ADVICE}."
        )
    return state


def _figure(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _checked(data, argument: str):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"`{argument}` must be a pair (images, labels); received {type(data)}.")
    images, labels = np.asarray(data[0], "float32"), np.asarray(data[1])
    if images.ndim != 4 or len(images) != len(labels) or not len(images):
        raise ValueError(
            f"`{argument}` must be images [N, h, w, c] and N labels with N > 0; received shapes "
            f"{images.shape} and {labels.shape}."
        )
    return images, labels.astype("int32")


def _write_scalars(directory: str, records: list) -> None:
    import tensorflow as tf

    writer = tf.summary.create_file_writer(os.path.join(directory, TENSORBOARD_DIR, "enas"))
    with writer.as_default():
        for record in records:
            for key, tag in (
                ("shared_loss", "shared/loss"),
                ("shared_accuracy", "shared/accuracy"),
                ("controller_reward", "controller/reward"),
            ):
                if record.get(key) is not None:
                    tf.summary.scalar(tag, record[key], step=record["epoch"])
    writer.close()


def load_dataset(dataset: str, data_dir=None, validation_size=0.1):
    """Returns (train (x, y), validation (x, y), classes): `dataset`'s training split with its
    held-out part, pixels scaled to [-1, 1] as the pipeline scales them."""
    from ... import data

    info = data.info(dataset, data_dir)
    train_split, validation_split = data.holdout_splits(dataset, validation_size, data_dir)

    def scaled(split):
        images, labels = data.as_arrays(dataset, split, data_dir)
        return images.astype("float32") / 127.5 - 1.0, labels.astype("int32")

    return scaled(train_split), scaled(validation_split), info.num_classes


def check_data_source(state: dict, data_source: Optional[dict], path: str) -> None:
    """Raises ValueError when the saved ENAS `state` (read from `path`) records other data than
    `data_source`: shared weights trained on one dataset or validation split would go on
    training on, or be scored with, another. A state or a caller that records none (states
    saved before the record existed) passes."""
    saved = state.get("data_source")
    if saved is None or data_source is None or saved == data_source:
        return
    differing = sorted(
        k for k in set(saved) | set(data_source) if saved.get(k) != data_source.get(k)
    )
    details = ", ".join(
        f"{key} {saved.get(key)!r} there, {data_source.get(key)!r} here" for key in differing
    )
    raise ValueError(
        f"{path} holds a search on other data ({details}); use the same dataset and "
        "validation split, another directory, or start over with overwrite=True (--overwrite)."
    )


@locks_directory()  # one search per directory (search/lock.py)
def search_shared(
    dataset: str,
    directory: str,
    *,
    epochs: int = 10,
    space: Optional[SearchSpace] = None,
    settings: SharedSettings = SharedSettings(),
    final=None,
    data_dir: Optional[str] = None,
    validation_size=0.1,
    seed: int = 0,
    verbose: int = 1,
    strategy=None,
    max_time=None,
    overwrite: bool = False,
) -> EnasResult:
    """Searches cells on `dataset` with shared weights (ENAS), derives the best, trains it.

    Resumes from `directory` when it holds a search of the same space and settings.

    Args:
        epochs: passes of the shared weights over the training split (each followed by
            `settings.controller_steps` controller steps).
        final: `training.TrainingSettings` of the from-scratch model
            (None: `pipeline.FINAL_SETTINGS`; False: skip it).
        strategy: `tf.distribute.Strategy` of the shared weights' training and of the final
            model's (batch sizes are global).
        max_time: wall-clock budget of the shared training over all runs of the search
            (seconds, or "90m", "1h", ...): once spent, no new epoch starts and the search
            goes on to derive (and the final model); run again with a larger one to resume.
        overwrite: start over: the saved state (`enas/`) and the TensorBoard events of an
            earlier search in `directory` are deleted once the dataset has loaded.

    Returns:
        An `EnasResult`; files as the module docstring lists.

    Raises:
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
        keras_nasnet.search.lock.DirectoryLockedError: another search holds `directory`.
        ValueError: a bad setting, a directory holding another search, or a saved state that
            is truncated or corrupt (the message names the file).
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    max_time = parse_duration(max_time)
    check_bool(overwrite, "overwrite")
    os.makedirs(directory, exist_ok=True)
    seconds = {}
    start = time.perf_counter()
    train_data, validation_data, classes = load_dataset(dataset, data_dir, validation_size)
    if overwrite:
        clear_state(directory)
    search = EnasSearch(
        train_data,
        validation_data,
        classes,
        directory,
        space=space,
        settings=settings,
        seed=seed,
        verbose=verbose,
        strategy=strategy,
        data_source={"dataset": dataset, "validation_size": validation_size},
    )
    if verbose:
        _announce(search, epochs, dataset)
    search.run(epochs, max_time)
    seconds["search"] = time.perf_counter() - start
    start = time.perf_counter()
    scored = search.derive()
    seconds["derive"] = time.perf_counter() - start
    result = _write_derived(search, scored, seconds)
    if final is not False:
        start = time.perf_counter()
        result.final = _train_final(result, dataset, final, data_dir, seed, strategy, verbose)
        seconds["final"] = time.perf_counter() - start
    write_report(result)
    return result


def clear_state(directory: str) -> None:
    """Deletes the saved ENAS state and TensorBoard events of `directory` (a search starts
    over); returns None. Raises OSError if they cannot be deleted."""
    for folder in (STATE_DIR, os.path.join(TENSORBOARD_DIR, "enas")):
        path = os.path.join(directory, folder)
        if os.path.lexists(path):
            shutil.rmtree(path)


def _announce(search: "EnasSearch", epochs: int, dataset: str) -> None:
    print(
        f"enas: {len(search.space)} decisions (10^{search.space.log10_size:.0f} cell pairs), "
        f"supernet {search.supernet.count_params():,} shared weights, {epochs} epochs on "
        f"{dataset}" + (f"; resumed after epoch {search.epoch}" if search.resumed else ""),
        flush=True,
    )


def _write_derived(search: "EnasSearch", scored: list, seconds: dict) -> EnasResult:
    """Writes the best derived architecture and every derived sample's score; returns the
    result so far."""
    from ..pipeline import BEST_FILE

    directory = search.directory
    best_accuracy, best = scored[0]
    best_path = os.path.join(directory, BEST_FILE)
    atomic_write(best_path, best.architecture.to_json(indent=2).encode())
    derived = [
        {"validation_accuracy": a, "actions": list(s.actions), "log_prob": s.log_prob}
        for a, s in scored
    ]
    atomic_write(os.path.join(directory, DERIVE_FILE), json.dumps(derived, indent=1).encode())
    if search.verbose:
        print(
            f"enas: derived the best of {len(scored)} samples, shared-weight validation "
            f"accuracy {best_accuracy:.4f} -> {best_path}",
            flush=True,
        )
    return EnasResult(
        best.architecture, best_accuracy, search.history, derived, directory, seconds=seconds
    )


def _train_final(result: EnasResult, dataset, final, data_dir, seed, strategy, verbose):
    """Trains the best architecture from scratch; returns its `training.TrainResult`."""
    from ...training import train
    from ..pipeline import FINAL_MODEL_FILE, FINAL_SETTINGS

    trained = train(
        result.best_architecture,
        dataset,
        FINAL_SETTINGS if final is None else final,
        data_dir=data_dir,
        output=os.path.join(result.directory, FINAL_MODEL_FILE),
        seed=seed,
        strategy=strategy,
    )
    if verbose:
        print(
            f"final: test accuracy {trained.test_accuracy:.4f}, "
            f"{trained.metrics['params']:,} parameters -> {trained.path}",
            flush=True,
        )
    return trained


# Columns of the per-epoch table: keys of `EnasResult.history` records, and their headers.
