"""What training costs on this machine, measured in a few steps: the inputs of the main job's
plan (`plan.MachineCosts`)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Optional

from .plan import MachineCosts, StepCost

# Steps timed after the first (which builds and traces): their median is the step time.
TIMED_STEPS = 4
# The cell whose cost stands for every cell's: a search's cells cost about as much.
MEASURED_ARCHITECTURE = "nasnet_a"
_IMPORT = "import keras_nasnet.training"


def measure_startup() -> float:
    """Returns the seconds a fresh Python process takes to import TensorFlow and the training
    module, as each comparison run's process does. When this process has not imported them yet,
    it does so and times itself; otherwise it times a child process.

    Raises:
        RuntimeError: the child process failed.
    """
    if "tensorflow" not in sys.modules:
        start = time.perf_counter()
        import keras_nasnet.training  # noqa: F401

        return time.perf_counter() - start
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise RuntimeError(f"Timing `python -c {_IMPORT!r}` failed: {tail[0]}")
    return time.perf_counter() - start


def measure_training(
    settings, dataset: str, data_dir: Optional[str] = None, seed: int = 0
) -> StepCost:
    """Returns what training a NASNet-A model at `settings` (a `TrainingSettings`: N, F, batch)
    costs here: the seconds to build it and take its first step, and the median of the next
    `TIMED_STEPS` steps, on images of `dataset`'s training split.

    Raises:
        keras_nasnet.data.DatasetNotFoundError: as `data.load`.
    """
    import keras

    from .. import data, training

    batches = TIMED_STEPS + 1
    info = data.info(dataset, data_dir)
    available = data.num_examples(dataset, "train", data_dir)
    images = min(available, batches * settings.batch_size)
    ends = []
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: ends.append(time.perf_counter())
    )
    start = time.perf_counter()
    model = training.build_model(
        MEASURED_ARCHITECTURE,
        info.image_shape,
        info.num_classes,
        settings.replace(epochs=1),
        steps_per_epoch=batches,
        seed=seed,
    )
    images_part = data.load(
        dataset,
        f"train[:{images}]",
        data_dir,
        batch_size=settings.batch_size,
        augment=True,
        cutout=settings.cutout,
        seed=seed,
    )
    training.fit(model, images_part, 1, callbacks=[clock])
    keras.backend.clear_session()
    steps = [later - earlier for earlier, later in zip(ends, ends[1:])]
    # Fewer images than a batch or two leave no step to time: the first step stands for one.
    step = statistics.median(steps) if steps else ends[0] - start
    return StepCost(fixed=ends[0] - start, step=max(step, 1e-6))


def measure_costs(
    child,
    final,
    dataset: str,
    data_dir: Optional[str] = None,
    seed: int = 0,
    startup: Optional[float] = None,
) -> MachineCosts:
    """Returns the `MachineCosts` of this machine: a child at `child`'s size, the final model at
    `final`'s (both `TrainingSettings`) and a fresh process's start-up (`startup` when the
    caller timed its own, else `measure_startup()`).

    Raises:
        keras_nasnet.data.DatasetNotFoundError: as `data.load`.
        RuntimeError: as `measure_startup`.
    """
    startup = measure_startup() if startup is None else startup
    # The final model first: the first model of a process also pays the process's one-off
    # costs, which the children, measured second, then leave out as the search's later
    # children do; the final model's training stops at its time whatever the estimate.
    final_cost = measure_training(final, dataset, data_dir, seed)
    same = all(
        getattr(child, f) == getattr(final, f) for f in ("num_blocks", "filters", "batch_size")
    )
    return MachineCosts(
        child=final_cost if same else measure_training(child, dataset, data_dir, seed),
        final=final_cost,
        startup=startup,
    )
