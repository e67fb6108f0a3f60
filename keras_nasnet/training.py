"""Training a NASNet from a genotype on a dataset: search children and final models alike.

One recipe, the paper's, scaled by its arguments: SGD with momentum 0.9 (Nesterov), cosine
learning-rate decay over all steps, L2 as weight decay on conv and dense kernels, optional
ScheduledDropPath and auxiliary head.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Mapping, Optional, Sequence, Union

import keras

from . import compat
from .distribute import num_replicas, synchronize_batch_norm
from .genotypes import Architecture, get_architecture
from .nasnet import AUX_LOSS_WEIGHT, NASNetModel, strip_aux_head
from .validation import check_int, check_number, check_output_file


@dataclass(frozen=True)
class TrainingSettings:
    """How to train one model. Batch sizes are global (split over devices by tf.distribute).

    Attributes:
        num_blocks: N, normal cells per stack.
        filters: F, filters per branch in the first stack (doubling at each reduction).
        epochs, batch_size: passes over the training split and examples per step.
        learning_rate: peak learning rate of the cosine decay.
        momentum, weight_decay: SGD momentum (Nesterov) and L2 on kernels.
        drop_path_keep_prob: ScheduledDropPath's final keep probability (1.0: off).
        use_aux_head: train with the auxiliary head (loss weight 0.4).
        cutout: cutout square side in pixels (0: none).
        label_smoothing: of the cross-entropy.
        epoch_examples: examples per epoch, in whole batches (None: the whole training split).
            Fewer than the split trains on a fraction of an epoch: each epoch takes the first
            batches of a fresh shuffle, so a short budget still trains every model alike.
    """

    num_blocks: int = 2
    filters: int = 16
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    drop_path_keep_prob: float = 1.0
    use_aux_head: bool = False
    cutout: int = 0
    label_smoothing: float = 0.0
    epoch_examples: Optional[int] = None

    def __post_init__(self):
        for name in ("num_blocks", "filters", "epochs", "batch_size"):
            check_int(getattr(self, name), name, minimum=1)
        if self.epoch_examples is not None:
            check_int(self.epoch_examples, "epoch_examples", minimum=1)
        check_number(self.learning_rate, "learning_rate", minimum=0)
        for name in ("momentum", "weight_decay", "label_smoothing"):
            check_number(getattr(self, name), name, minimum=0, maximum=1, max_inclusive=False)
        check_number(
            self.drop_path_keep_prob,
            "drop_path_keep_prob",
            minimum=0,
            maximum=1,
            min_inclusive=False,
        )
        check_int(self.cutout, "cutout", minimum=0)

    def replace(self, **changes) -> "TrainingSettings":
        """Returns a copy with `changes` applied."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """Returns the settings as a dict; `epoch_examples` only when set, so that files written
        before it existed (a comparison's settings.json) still match the same recipe."""
        settings = asdict(self)
        if self.epoch_examples is None:
            del settings["epoch_examples"]
        return settings

    def steps_per_epoch(self, examples: int) -> int:
        """Returns the training steps of one epoch over a split of `examples` examples."""
        if self.epoch_examples is not None:
            examples = min(examples, self.epoch_examples)
        return math.ceil(examples / self.batch_size)

    def limits_epoch(self, examples: int) -> bool:
        """Returns whether an epoch covers less than a split of `examples` examples."""
        return self.steps_per_epoch(examples) < math.ceil(examples / self.batch_size)


def build_model(
    architecture: Union[Architecture, str],
    input_shape,
    classes: int,
    settings: TrainingSettings,
    steps_per_epoch: int,
    name: str = "NASNet",
    seed: Optional[int] = None,
    strategy=None,
) -> keras.Model:
    """Returns a compiled `NASNetModel` (CIFAR stem, F = `settings.filters`) for `input_shape`
    images, ready for `fit`. `seed` seeds its initializers and drop-path masks (None: Keras
    draws them).

    With `settings.use_aux_head` the model has two outputs ([predictions, aux_predictions]),
    compiled with the paper's 0.4 weight on the auxiliary loss. With a `strategy`
    (`keras_nasnet.distribute.make_strategy`) the model is built and compiled in its scope, and
    with more than one replica its BatchNormalization statistics are synchronized, so a step
    on the global batch computes what it would on one device. `steps_per_epoch` counts global
    batches.
    """
    architecture = get_architecture(architecture)
    with strategy_scope(strategy):
        model = _build_and_compile(
            architecture, input_shape, classes, settings, steps_per_epoch, name, seed
        )
        if num_replicas(strategy) > 1:
            synchronize_batch_norm(model)
    return model


def strategy_scope(strategy):
    """Returns `strategy.scope()`, or a context that does nothing for None."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def _build_and_compile(architecture, input_shape, classes, settings, steps_per_epoch, name, seed):
    total_steps = settings.epochs * steps_per_epoch
    model = NASNetModel(
        architecture,
        filters=settings.filters,
        num_blocks=settings.num_blocks,
        stem="cifar",
        skip_reduction=False,
        drop_path_keep_prob=settings.drop_path_keep_prob,
        total_training_steps=total_steps if settings.drop_path_keep_prob < 1 else None,
        use_aux_head=settings.use_aux_head,
        input_shape=tuple(input_shape),
        classes=classes,
        name=name,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        seed=seed,
    )
    compile_model(model, settings, total_steps)
    return model


def check_plain_recipe(settings: TrainingSettings, models: str) -> None:
    """Raises ValueError when `settings` asks for what only NASNet cells have (an auxiliary
    head, ScheduledDropPath), naming `models` (e.g. "Networks"); returns None otherwise."""
    if settings.use_aux_head or settings.drop_path_keep_prob < 1:
        raise ValueError(
            f"{models} have no auxiliary head or drop-path: the recipe must have "
            f"`use_aux_head` False and `drop_path_keep_prob` 1.0; received "
            f"{settings.use_aux_head} and {settings.drop_path_keep_prob}."
        )


def compile_model(model: keras.Model, settings: TrainingSettings, total_steps: int) -> None:
    """Compiles `model` with the paper's recipe (see the module docstring) over `total_steps`."""
    schedule = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, decay_steps=max(1, total_steps)
    )
    optimizer = keras.optimizers.SGD(
        learning_rate=schedule,
        momentum=settings.momentum,
        nesterov=True,
        weight_decay=settings.weight_decay or None,
    )
    # L2 on kernels only: decaying BN scales and biases hurts small models.
    optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
    loss = (
        keras.losses.SparseCategoricalCrossentropy(label_smoothing=settings.label_smoothing)
        if settings.label_smoothing
        else "sparse_categorical_crossentropy"
    )
    if len(model.outputs) == 2:
        model.compile(
            optimizer=optimizer,
            loss=[loss, loss],
            loss_weights=[1.0, AUX_LOSS_WEIGHT],
            metrics=[["accuracy"], []],
        )
    else:
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])


def with_aux_targets(dataset, model: keras.Model):
    """Returns `dataset` with labels duplicated when `model` has an auxiliary output."""
    if len(model.outputs) == 2:
        return dataset.map(lambda x, y: (x, (y, y)))
    return dataset


class DivergenceError(RuntimeError):
    """Training produced a NaN or infinite loss."""


def fit(
    model: keras.Model,
    train_data,
    epochs: int,
    validation_data=None,
    callbacks=(),
    verbose=0,
    steps_per_epoch: Optional[int] = None,
):
    """Runs `model.fit` and returns its History; raises DivergenceError on a non-finite loss.

    `steps_per_epoch` (None: all of `train_data`) takes that many batches of `train_data` per
    epoch, from its start each time (a shuffled dataset gives other batches every epoch).
    """
    if steps_per_epoch is not None:
        train_data = train_data.take(check_int(steps_per_epoch, "steps_per_epoch", minimum=1))
    train_data = with_aux_targets(train_data, model)
    spec = getattr(train_data, "element_spec", None)
    if keras.backend.backend() == "tensorflow" and spec is not None and not model.optimizer.built:
        # Built here, the train step is traced once instead of twice (about half of a small
        # child's first step; docs/benchmarks.md).
        compat.build_training_state(model, spec)
    history = model.fit(
        train_data,
        validation_data=None
        if validation_data is None
        else with_aux_targets(validation_data, model),
        epochs=epochs,
        callbacks=[keras.callbacks.TerminateOnNaN(), *callbacks],
        verbose=verbose,
        shuffle=False,  # the datasets shuffle themselves; Keras warns on every fit otherwise
    )
    losses = history.history.get("loss", [])
    if not losses or not all(math.isfinite(v) for v in losses):
        raise DivergenceError(f"Training diverged: loss per epoch {losses}.")
    return history


@dataclass
class TrainResult:
    """What `train` produced: the inference model, its test accuracy and where it was saved."""

    model: keras.Model
    history: dict
    test_accuracy: Optional[float]
    path: Optional[str]
    seconds: float
    metrics: dict = field(default_factory=dict)


def train(
    architecture: Union[Architecture, str],
    dataset: str,
    settings: TrainingSettings = TrainingSettings(),
    data_dir: Optional[str] = None,
    output: Optional[str] = None,
    seed: int = 0,
    evaluate_on: Optional[str] = "test",
    verbose: int = 0,
    strategy=None,
    callbacks: Sequence = (),
    train_split: str = "train",
) -> TrainResult:
    """Trains `architecture` on `train_split` of `dataset` and evaluates on `evaluate_on`.

    Args:
        architecture: an Architecture, a registered name ("nasnet_a") or a JSON file.
        dataset: a `keras_nasnet.data` dataset name.
        settings: the recipe (N, F, epochs, ...).
        output: if given, the `.keras` file to write (the inference model, no aux head; it
            loads as a `NASNetModel` that knows its architecture), with a `<output>.json`
            beside it holding the settings and accuracy.
        seed: seeds the model's initializers and drop-path masks and the data pipeline.
        evaluate_on: split for the reported accuracy (None: skip).
        strategy: a `tf.distribute.Strategy` to train on several devices or workers (see
            `keras_nasnet.distribute`); `settings.batch_size` is the global batch. Under
            MultiWorkerMirroredStrategy every worker runs `train` with the same arguments and
            every worker must write `output` (only the chief's copy is the one to keep).
        callbacks: more Keras callbacks for `fit` (one that stops training early leaves the
            model as trained so far).
        train_split: the split trained on, "train" or a slice of it such as "train[:-600]"
            (with `evaluate_on="train[-600:]"`: a search child's held-out score, the test
            split untouched).

    Returns:
        A `TrainResult`.

    Raises:
        DivergenceError: the loss became NaN or infinite.
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
        ValueError: an `output` that cannot be written (not a .keras name, a directory, a
            read-only folder), before any training.
    """
    architecture = get_architecture(architecture)

    def build(input_shape, classes, steps_per_epoch):
        return build_model(
            architecture,
            input_shape,
            classes,
            settings,
            steps_per_epoch,
            seed=seed,
            strategy=strategy,
        )

    return train_model(
        build,
        dataset,
        settings,
        data_dir=data_dir,
        output=output,
        seed=seed,
        evaluate_on=evaluate_on,
        verbose=verbose,
        strategy=strategy,
        callbacks=callbacks,
        describe={"architecture": architecture.to_dict()},
        train_split=train_split,
    )


def train_model(
    build: Callable,
    dataset: str,
    settings: TrainingSettings = TrainingSettings(),
    data_dir: Optional[str] = None,
    output: Optional[str] = None,
    seed: int = 0,
    evaluate_on: Optional[str] = "test",
    verbose: int = 0,
    strategy=None,
    callbacks: Sequence = (),
    describe: Optional[Mapping] = None,
    train_split: str = "train",
) -> TrainResult:
    """Trains the model `build(input_shape, classes, steps_per_epoch)` returns (compiled, e.g.
    with `compile_model`) with `train`'s data pipeline, epochs, seed and scoring; `train` is
    this with a NASNet builder. `describe` adds entries to the metrics (the model's genotype).

    Returns:
        A `TrainResult`.

    Raises:
        As `train`.
    """
    from . import data

    if output is not None:
        output = check_output_file(output, "output", ".keras")
    info = data.info(dataset, data_dir)
    n_train = data.num_examples(dataset, train_split, data_dir)
    steps = settings.steps_per_epoch(n_train)
    # The seed reaches the model's initializers and masks and the data pipeline as an argument:
    # no global random state is set.
    model = build(info.image_shape, info.num_classes, steps)
    train_data = data.load(
        dataset,
        train_split,
        data_dir,
        batch_size=settings.batch_size,
        augment=True,
        cutout=settings.cutout,
        seed=seed,
    )
    start = time.perf_counter()
    history = fit(
        model,
        train_data,
        settings.epochs,
        callbacks=callbacks,
        verbose=verbose,
        steps_per_epoch=steps if settings.limits_epoch(n_train) else None,
    )
    seconds = time.perf_counter() - start
    synchronize_batch_norm(model, False)  # a saved model must load on any backend
    if settings.use_aux_head:  # the one-output model shares the weights but needs compiling
        with strategy_scope(strategy):
            model = strip_aux_head(model)
            compile_model(model, settings.replace(use_aux_head=False), 1)
    test_accuracy = None
    if evaluate_on is not None:
        test_data = data.load(dataset, evaluate_on, data_dir, batch_size=256, augment=False)
        test_accuracy = float(model.evaluate(test_data, verbose=0, return_dict=True)["accuracy"])
    metrics = {
        "dataset": dataset,
        "trained_on": train_split,
        "evaluated_on": evaluate_on,
        "accuracy": test_accuracy,
        "params": int(model.count_params()),
        "train_seconds": seconds,
        "settings": settings.to_dict(),
        "replicas": num_replicas(strategy),
        **(describe or {}),
    }
    if output is not None:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        model.save(output)
        with open(output + ".json", "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
    return TrainResult(model, history.history, test_accuracy, output, seconds, metrics)
