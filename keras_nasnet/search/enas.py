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
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from ..validation import check_bool, check_choice, check_int, check_number, check_positive
from .clock import Stopwatch, parse_duration
from .files import TENSORBOARD_DIR, atomic_write
from .shared_ops import SharedOperand
from .space import SearchSpace
from .supernet import Supernet, enas_space

STATE_DIR = "enas"
STATE_FILE = "state.json"
ARRAYS_FILE = "arrays-{:06d}.npz"
HISTORY_FILE = "history.json"
DERIVE_FILE = "derive.json"
REPORT_FILE = "report_enas.html"


@dataclass(frozen=True)
class SharedSettings:
    """How the shared weights and the controller train (ENAS's settings where they fit 2 cores).

    Attributes:
        filters, num_cells, stem, stem_filters: the supernet's macro settings (`Supernet`).
        batch_size: images per shared-weights step and per reward minibatch.
        learning_rate, momentum, clipnorm: SGD (Nesterov) of the shared weights; ENAS clips the
            gradient norm at 5.
        controller_steps: policy steps per epoch (M; ENAS: 30).
        algorithm: "reinforce" (ENAS) or "ppo".
        controller_learning_rate, entropy_weight, baseline_decay: the learner's (ENAS: 0.0035,
            0.0001, 0.99).
        temperature, tanh_constant: of the controller's logits (ENAS: 5.0, 1.1).
        derive_samples: architectures sampled and scored at the end (K).
    """

    filters: int = 8
    num_cells: int = 1
    stem: str = "cifar"
    stem_filters: Optional[int] = None
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    clipnorm: float = 5.0
    controller_steps: int = 30
    algorithm: str = "reinforce"
    controller_learning_rate: float = 0.0035
    entropy_weight: float = 0.0001
    baseline_decay: float = 0.99
    temperature: float = 5.0
    tanh_constant: float = 1.1
    derive_samples: int = 20

    def __post_init__(self):
        for name in ("filters", "num_cells", "batch_size", "controller_steps", "derive_samples"):
            check_int(getattr(self, name), name, minimum=1)
        check_int(self.stem_filters, "stem_filters", minimum=1, allow_none=True)
        check_choice(self.algorithm, "algorithm", ("reinforce", "ppo"))
        for name in ("learning_rate", "clipnorm", "controller_learning_rate"):
            check_positive(getattr(self, name), name)
        check_number(self.momentum, "momentum", minimum=0, maximum=1, max_inclusive=False)
        check_number(self.entropy_weight, "entropy_weight", minimum=0)
        check_number(
            self.baseline_decay, "baseline_decay", minimum=0, maximum=1, max_inclusive=False
        )
        check_positive(self.temperature, "temperature")
        check_positive(self.tanh_constant, "tanh_constant")


class SharedTrainer:
    """One traced training step and one traced evaluation step of a `Supernet`, for every
    architecture: the architecture is an int32 tensor argument. Both steps run only the chosen
    op of each operand (a switch; the training step's gradient runs the chosen op again under
    its own tape, `shared_ops.SharedOperand`). With `compute_all_ops` (ENAS's own way, and the
    only one under a strategy with synchronized batch norm: TensorFlow cannot sum over replicas
    inside a switch) the training step runs every op and keeps the chosen one; None picks it
    only there.

    `traces` counts the Python-side traces of each step (a retrace would add one).
    """

    def __init__(
        self,
        supernet: Supernet,
        learning_rate=0.05,
        momentum=0.9,
        clipnorm=5.0,
        compute_all_ops: Optional[bool] = None,
        strategy=None,
        synchronized: bool = True,
    ):
        import keras
        import tensorflow as tf

        from ..compat import flatten_layers
        from ..distribute import num_replicas, synchronize_batch_norm

        self.supernet = supernet
        self.learning_rate = check_positive(learning_rate, "learning_rate")
        self.momentum = check_number(momentum, "momentum", minimum=0, maximum=1)
        self.clipnorm = check_positive(clipnorm, "clipnorm")
        self.replicas = num_replicas(strategy)
        self.strategy = strategy if self.replicas > 1 else None
        sync = check_bool(synchronized, "synchronized")
        if compute_all_ops is None:
            compute_all_ops = self.strategy is not None and sync
        self.compute_all_ops = check_bool(compute_all_ops, "compute_all_ops")
        if self.strategy is not None:
            outside = [
                v.path
                for v in supernet.variables
                if not self.strategy.extended.variable_created_in_scope(v.value)
            ]
            if outside:
                raise ValueError(
                    f"The supernet's variables ({outside[0]}, ...) were not created under "
                    "`strategy.scope()`: build the Supernet inside it."
                )
            # Global-batch statistics in every batch norm: one step on R replicas is one
            # step on one device (docs/distributed.md).
            if sync and not self.compute_all_ops:
                raise ValueError(
                    "Synchronized batch norm under a strategy needs compute_all_ops=True: "
                    "TensorFlow cannot sum over replicas inside a switch's branch."
                )
            synchronize_batch_norm(supernet, sync)
            for layer in flatten_layers(supernet):
                if isinstance(layer, SharedOperand):
                    layer.synchronized = sync
        # Nesterov SGD written out: Keras' optimizers trace ~50 ms of Python per variable,
        # and a supernet has hundreds of them.
        with self._scope():
            self.slots = [
                keras.Variable(np.zeros(v.shape, "float32"), trainable=False, name="momentum")
                for v in supernet.trainable_variables
            ]
        self.loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.traces = {"train": 0, "evaluate": 0}
        spec_arch = tf.TensorSpec((len(supernet.space),), tf.int32)
        shape = (None, *supernet.settings["input_shape"])
        if self.strategy is None:
            self._train = tf.function(
                self._train_step,
                input_signature=[
                    tf.TensorSpec(shape, tf.float32),
                    tf.TensorSpec((None,)),
                    spec_arch,
                ],
            )
        else:
            # PerReplica arguments: traced once per (per-replica) batch shape.
            self._train = tf.function(self._distributed_train_step)
        self._evaluate = tf.function(
            self._evaluate_step,
            input_signature=[tf.TensorSpec(shape, tf.float32), tf.TensorSpec((None,)), spec_arch],
        )

    def _scope(self):
        import contextlib

        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def _gradients(self, images, labels, arch):
        """Returns (loss, correct predictions, images, gradients of the loss)."""
        import tensorflow as tf

        variables = self.supernet.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.supernet(
                images, architecture=arch, training=True, compute_all_ops=self.compute_all_ops
            )
            loss = self.loss(labels, logits)
        grads = tape.gradient(loss, variables)
        # Ops the architecture did not run have no gradient: they get zeros (as in ENAS,
        # momentum still moves them).
        grads = [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(grads, variables)
        ]
        count = tf.cast(tf.shape(labels)[0], tf.float32)
        return loss, _accuracy(labels, logits) * count, count, grads

    def _apply(self, grads) -> None:
        import tensorflow as tf

        grads, _ = tf.clip_by_global_norm(grads, self.clipnorm)
        for variable, slot, grad in zip(self.supernet.trainable_variables, self.slots, grads):
            velocity = self.momentum * slot + grad
            slot.assign(velocity)
            variable.assign_sub(self.learning_rate * (grad + self.momentum * velocity))

    def _train_step(self, images, labels, arch):
        self.traces["train"] += 1
        loss, correct, count, grads = self._gradients(images, labels, arch)
        self._apply(grads)
        return loss, correct / count

    def _distributed_train_step(self, images, labels, arch):
        """One step on the global batch split over the replicas: Keras' loss divides each
        replica's local mean by R, so the summed gradients are those of the global mean."""
        self.traces["train"] += 1
        strategy = self.strategy
        loss, correct, count, grads = strategy.run(self._gradients, args=(images, labels, arch))

        def total(value):
            return strategy.reduce("SUM", value, axis=None)

        self._apply([total(g) for g in grads])
        return total(loss), total(correct) / total(count)

    def _evaluate_step(self, images, labels, arch):
        self.traces["evaluate"] += 1
        # Only the chosen ops run: the evaluation has no gradient to trace.
        logits = self.supernet(images, architecture=arch, training=True, compute_all_ops=False)
        return self.loss(labels, logits), _accuracy(labels, logits)

    def train_step(self, images, labels, indices) -> tuple[float, float]:
        """Trains the shared weights on one minibatch under architecture `indices`; returns
        (loss, accuracy) of that minibatch before the step. Under a strategy the minibatch is
        global: split evenly over the replicas (its size must be a multiple of their number).
        """
        labels = np.asarray(labels, "float32")
        if self.strategy is None:
            loss, accuracy = self._train(images, labels, _arch(indices))
            return float(loss), float(accuracy)
        images = np.asarray(images, "float32")
        if len(images) % self.replicas:
            raise ValueError(
                f"A minibatch of {len(images)} images does not split evenly over "
                f"{self.replicas} replicas; use a batch size that is a multiple of it."
            )
        per = len(images) // self.replicas

        def split(array):
            return self.strategy.experimental_distribute_values_from_function(
                lambda context: array[
                    context.replica_id_in_sync_group * per : (context.replica_id_in_sync_group + 1)
                    * per
                ]
            )

        loss, accuracy = self._train(split(images), split(labels), _arch(indices))
        return float(loss), float(accuracy)

    def evaluate(self, images, labels, indices) -> tuple[float, float]:
        """Returns (loss, accuracy) of architecture `indices` on one minibatch, shared weights
        and batch-statistics batch norm (as ENAS's reward)."""
        loss, accuracy = self._evaluate(images, np.asarray(labels, "float32"), _arch(indices))
        return float(loss), float(accuracy)

    def evaluate_all(self, images, labels, indices, batch_size: int = 256) -> float:
        """Returns the accuracy of architecture `indices` on all of `images`, in minibatches."""
        correct = 0.0
        for start in range(0, len(images), batch_size):
            stop = min(start + batch_size, len(images))
            _, accuracy = self.evaluate(images[start:stop], labels[start:stop], indices)
            correct += accuracy * (stop - start)
        return correct / len(images)

    # -- state -------------------------------------------------------------------------------

    def get_arrays(self) -> dict:
        """Returns {name: array}: the shared weights and the optimizer's slots."""
        arrays = {f"shared/{i}": w for i, w in enumerate(self.supernet.get_weights())}
        for i, variable in enumerate(self.slots):
            arrays[f"shared_optimizer/{i}"] = np.array(variable.numpy())
        return arrays

    def set_arrays(self, arrays: dict) -> None:
        """Restores `get_arrays()` output. Raises ValueError if from another supernet."""
        weights = self.supernet.get_weights()
        for i, current in enumerate(weights):
            key = f"shared/{i}"
            if key not in arrays or arrays[key].shape != current.shape:
                raise ValueError(f"The saved shared weights do not match this supernet ({key}).")
            weights[i] = arrays[key]
        self.supernet.set_weights(weights)
        for i, variable in enumerate(self.slots):
            key = f"shared_optimizer/{i}"
            if key not in arrays or arrays[key].shape != tuple(variable.shape):
                raise ValueError(f"The saved optimizer state does not match ({key}).")
            variable.assign(arrays[key])


def _arch(indices):
    import tensorflow as tf

    return tf.constant(np.asarray(indices, dtype="int32"))


def _accuracy(labels, logits):
    from keras import ops

    predicted = ops.cast(ops.argmax(logits, axis=-1), "float32")
    return ops.mean(ops.cast(ops.equal(predicted, ops.cast(labels, "float32")), "float32"))


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
    ):
        import contextlib

        from ..distribute import num_replicas
        from .controller import Controller
        from .policy import PolicyLearner

        if not isinstance(settings, SharedSettings):
            raise TypeError(f"`settings` must be SharedSettings; received {settings!r}.")
        self.seed = check_int(seed, "seed")
        self.space = enas_space() if space is None else space
        self.settings = settings
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
                f"enas: epoch {self.epoch}: shared loss {record['shared_loss']:.4f} accuracy "
                f"{record['shared_accuracy']:.4f}; controller reward "
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
        atomic_write(os.path.join(folder, STATE_FILE), json.dumps(state).encode())
        atomic_write(
            os.path.join(folder, HISTORY_FILE), json.dumps(self.history, indent=1).encode()
        )
        for other in os.listdir(folder):
            if other.startswith("arrays-") and other != name:
                os.remove(os.path.join(folder, other))
        _write_scalars(self.directory, self.history[-1:])

    def _restore(self) -> bool:
        path = os.path.join(self._state_dir(), STATE_FILE)
        if not os.path.exists(path):
            return False
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        if state["space"] != self.space.get_config() or state["settings"] != asdict(self.settings):
            raise ValueError(
                f"{path} holds a search with another space or settings; use another directory "
                "or delete it."
            )
        with np.load(os.path.join(self._state_dir(), state["arrays"])) as loaded:
            arrays = {k: loaded[k] for k in loaded.files}
        self.trainer.set_arrays(arrays)
        self.learner.set_state(state["learner"], arrays)
        self.rng.bit_generator.state = state["rng"]
        self.epoch = state["epoch"]
        self.history = state["history"]
        self._stopwatch.restore(state.get("elapsed_seconds", 0.0))  # absent before 12-04
        return True


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
    from .. import data

    info = data.info(dataset, data_dir)
    train_split, validation_split = data.holdout_splits(dataset, validation_size, data_dir)

    def scaled(split):
        images, labels = data.as_arrays(dataset, split, data_dir)
        return images.astype("float32") / 127.5 - 1.0, labels.astype("int32")

    return scaled(train_split), scaled(validation_split), info.num_classes


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

    Returns:
        An `EnasResult`; files as the module docstring lists.

    Raises:
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
        ValueError: a bad setting, or a directory holding another search.
    """
    from .pipeline import BEST_FILE, FINAL_MODEL_FILE, FINAL_SETTINGS

    epochs = check_int(epochs, "epochs", minimum=1)
    max_time = parse_duration(max_time)
    os.makedirs(directory, exist_ok=True)
    seconds = {}
    start = time.perf_counter()
    train_data, validation_data, classes = load_dataset(dataset, data_dir, validation_size)
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
    )
    if verbose:
        print(
            f"enas: {len(search.space)} decisions (10^{search.space.log10_size:.0f} cell pairs), "
            f"supernet {search.supernet.count_params():,} shared weights, {epochs} epochs on "
            f"{dataset}" + (f"; resumed after epoch {search.epoch}" if search.resumed else ""),
            flush=True,
        )
    search.run(epochs, max_time)
    seconds["search"] = time.perf_counter() - start
    start = time.perf_counter()
    scored = search.derive()
    seconds["derive"] = time.perf_counter() - start
    best_accuracy, best = scored[0]
    with open(os.path.join(directory, BEST_FILE), "w", encoding="utf-8") as f:
        f.write(best.architecture.to_json(indent=2))
    derived = [
        {"validation_accuracy": a, "actions": list(s.actions), "log_prob": s.log_prob}
        for a, s in scored
    ]
    atomic_write(os.path.join(directory, DERIVE_FILE), json.dumps(derived, indent=1).encode())
    result = EnasResult(
        best.architecture, best_accuracy, search.history, derived, directory, seconds=seconds
    )
    if verbose:
        print(
            f"enas: derived the best of {len(scored)} samples, shared-weight validation "
            f"accuracy {best_accuracy:.4f} -> {os.path.join(directory, BEST_FILE)}",
            flush=True,
        )
    if final is not False:
        from ..training import train

        final = FINAL_SETTINGS if final is None else final
        start = time.perf_counter()
        result.final = train(
            best.architecture,
            dataset,
            final,
            data_dir=data_dir,
            output=os.path.join(directory, FINAL_MODEL_FILE),
            seed=seed,
            strategy=strategy,
        )
        seconds["final"] = time.perf_counter() - start
        if verbose:
            print(
                f"final: test accuracy {result.final.test_accuracy:.4f}, "
                f"{result.final.metrics['params']:,} parameters -> {result.final.path}",
                flush=True,
            )
    write_report(result)
    return result


def write_report(result: EnasResult) -> str:
    """Writes `report_enas.html` (per-epoch table and the derived cells); returns its path."""
    import html

    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{_cell(r.get(k))}</td>"
            for k in (
                "epoch",
                "shared_loss",
                "shared_accuracy",
                "controller_reward",
                "shared_seconds",
                "controller_seconds",
            )
        )
        + "</tr>"
        for r in result.history
    )
    derived = "".join(
        f"<tr><td>{i + 1}</td><td>{d['validation_accuracy']:.4f}</td>"
        f"<td><code>{html.escape(str(d['actions']))}</code></td></tr>"
        for i, d in enumerate(result.derived)
    )
    final = ""
    if result.final is not None:
        final = (
            f"<p>Final model (from scratch): test accuracy {result.final.test_accuracy:.4f}, "
            f"{result.final.metrics['params']:,} parameters.</p>"
        )
    text = (
        "<!doctype html><meta charset='utf-8'><title>ENAS search</title>"
        "<h1>Weight-sharing search (ENAS)</h1>"
        f"<p>Best derived architecture: shared-weight validation accuracy "
        f"{result.best_accuracy:.4f}.</p>{final}"
        f"<pre>{html.escape(result.best_architecture.to_json(indent=2))}</pre>"
        "<h2>Per epoch</h2><table border=1><tr><th>epoch</th><th>shared loss</th>"
        "<th>shared accuracy</th><th>controller reward</th><th>shared s</th>"
        f"<th>controller s</th></tr>{rows}</table>"
        "<h2>Derived samples</h2><table border=1><tr><th>rank</th><th>validation accuracy"
        f"</th><th>decisions</th></tr>{derived}</table>"
    )
    path = os.path.join(result.directory, REPORT_FILE)
    atomic_write(path, text.encode())
    return path


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def add_arguments(parser) -> None:
    """Adds the ENAS options (`--shared-*`) to an argparse `parser` of `keras-nasnet search`."""
    defaults = SharedSettings()
    parser.add_argument("--shared-epochs", type=int, default=10, help="ENAS epochs")
    parser.add_argument("--shared-filters", type=int, default=defaults.filters)
    parser.add_argument("--shared-cells", type=int, default=defaults.num_cells)
    parser.add_argument("--shared-batch-size", type=int, default=defaults.batch_size)
    parser.add_argument(
        "--controller-steps", type=int, default=defaults.controller_steps, help="M per epoch"
    )
    parser.add_argument("--derive-samples", type=int, default=defaults.derive_samples)


def run_from_args(
    args, space: Optional[SearchSpace] = None, final=None, strategy=None
) -> EnasResult:
    """Runs `search_shared` from parsed `keras-nasnet search` arguments: `add_arguments`' options
    plus the command's dataset, directory and (if present) seed, data_dir, algorithm,
    validation_size and no_final. `space` None is `enas_space()`; `final` and `strategy` as
    `search_shared`.

    Raises:
        ValueError: an algorithm that does not learn (the controller is trained by ENAS).
    """
    algorithm = getattr(args, "algorithm", "reinforce")
    if algorithm not in ("reinforce", "ppo"):
        raise ValueError(
            f"Weight-sharing search trains the controller: the algorithm must be 'reinforce' or "
            f"'ppo'; received {algorithm!r}."
        )
    settings = SharedSettings(
        filters=args.shared_filters,
        num_cells=args.shared_cells,
        batch_size=args.shared_batch_size,
        controller_steps=args.controller_steps,
        derive_samples=args.derive_samples,
        algorithm=algorithm,
    )
    return search_shared(
        args.dataset,
        args.directory,
        epochs=args.shared_epochs,
        space=space,
        settings=settings,
        final=False if getattr(args, "no_final", False) else final,
        data_dir=getattr(args, "data_dir", None),
        validation_size=getattr(args, "validation_size", 0.1),
        seed=getattr(args, "seed", 0),
        strategy=strategy,
        max_time=getattr(args, "max_time", None),
    )
