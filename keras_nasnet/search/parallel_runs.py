"""Training independent runs (a comparison's (architecture, seed) pairs) in worker processes.

Each run goes to a fresh process started with "spawn": TensorFlow's state is not fork-safe, and a
run that crashes its process (out of memory, a native abort) takes only itself down. Results come
back as small dicts in the order the runs finish, so the caller saves each one as it ends.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
import time
from typing import Callable, Iterable, Optional

from ..validation import check_int

# What a worker calls for one run, as "module:function"; a string so that the spawned process
# imports it itself.
TRAIN_TARGET = "keras_nasnet.training:train"


class WorkerDiedError(RuntimeError):
    """A worker process ended without returning its run's result."""


def default_threads(jobs: int) -> int:
    """Returns the intra-op threads per worker that share this machine's cores among `jobs`."""
    return max(1, (os.cpu_count() or 1) // jobs)


def _start_worker(threads: int) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    # Before TensorFlow creates its thread pools: `jobs` workers with every core each would
    # oversubscribe the machine.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def run_once(function: Callable, kwargs: dict) -> dict:
    """Returns the outcome of `function(**kwargs)` (a `TrainResult`) as `run_in_processes`
    passes it on, for a run trained in this process."""
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function(**kwargs)
    return {
        "test_accuracy": result.test_accuracy,
        "params": int(result.metrics["params"]),
        "train_seconds": float(result.seconds),
        "seconds": time.perf_counter() - start,
        # CPU time of every thread of the process: what the run cost whatever ran beside it.
        "cpu_seconds": time.process_time() - start_cpu,
    }


def _call(target: str, kwargs: dict) -> dict:
    module, _, name = target.partition(":")
    return run_once(getattr(importlib.import_module(module), name), kwargs)


def run_in_processes(
    runs: Iterable[tuple[object, dict]],
    jobs: int,
    on_done: Callable[[object, dict], None],
    threads: Optional[int] = None,
    target: Optional[str] = None,
) -> None:
    """Calls `target(**kwargs)` for every `(key, kwargs)` of `runs`, `jobs` at a time, each in a
    worker process, and `on_done(key, outcome)` in this process as each one finishes.

    `target` returns a `keras_nasnet.training.TrainResult`; the outcome is its test accuracy,
    parameter count and training seconds, with the run's wall and CPU seconds. Runs start in
    the order given. When a run fails no new run starts, the running ones finish and are passed
    to `on_done`, and the first error is raised: nothing finished is lost.

    Raises:
        The first run's exception, or `WorkerDiedError` when a worker process died.
    """
    jobs = check_int(jobs, "jobs", minimum=1)
    threads = default_threads(jobs) if threads is None else check_int(threads, "threads", minimum=1)
    target = TRAIN_TARGET if target is None else target
    runs = list(runs)
    if not runs:
        return
    context = multiprocessing.get_context("spawn")
    error = None
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(runs)),
        mp_context=context,
        initializer=_start_worker,
        initargs=(threads,),
    ) as pool:
        futures = {pool.submit(_call, target, kwargs): key for key, kwargs in runs}
        for future in concurrent.futures.as_completed(futures):
            try:
                outcome = future.result()
            except concurrent.futures.CancelledError:
                continue
            except concurrent.futures.process.BrokenProcessPool as exc:
                error = error or WorkerDiedError(
                    f"A training process died before its run ended ({exc}); the runs that "
                    "finished are saved: run again to train the rest."
                )
                continue
            except Exception as exc:  # noqa: BLE001 (re-raised below, after the others end)
                if error is None:
                    error = exc
                    for other in futures:
                        other.cancel()  # queued ones only: running ones finish and are saved
                continue
            on_done(futures[future], outcome)
    if error is not None:
        raise error
