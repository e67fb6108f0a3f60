"""Training independent runs (a comparison's (architecture, seed) pairs) in worker processes.

Each run goes to a worker process started with "spawn" (TensorFlow's state is not fork-safe):
by default a fresh one per run, so a run leaves nothing behind for the next, and a run that
crashes its process (out of memory, a native abort) takes only itself down, not the runs beside
it. Many short runs (a design-space study's) may share a worker, one after another. Results
come back as small dicts in the order the runs finish, so the caller saves each one as it ends.
"""

from __future__ import annotations

import collections
import importlib
import multiprocessing
import multiprocessing.connection
import os
import threading
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


def _end_with(parent: int, poll: float = 1.0) -> None:
    """Ends this process once `parent` is no longer its parent: a parent killed outright
    (SIGKILL) cannot stop its runs, which would otherwise train on for nobody."""
    while os.getppid() == parent:
        time.sleep(poll)
    os._exit(1)


def _forget_models() -> None:
    """Drops what the finished run left in Keras' global state (layer names, graphs), so the
    next run of a reused worker starts as a fresh process would."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def _worker(connection, threads: int, parent: int) -> None:
    """Runs the (target, kwargs) tasks `connection` brings, one at a time, until it brings
    None; sends each run's ("done", outcome) or ("failed", exception)."""
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    _start_worker(threads)
    while True:
        task = connection.recv()
        if task is None:
            break
        target, kwargs = task
        try:
            message = ("done", _call(target, kwargs))
        except BaseException as exc:  # noqa: BLE001 (sent to the parent, which raises it)
            message = ("failed", exc)
        try:
            connection.send(message)
        except Exception:  # an exception that does not pickle: its text still gets through
            connection.send(("failed", RuntimeError(f"{type(message[1]).__name__}: {message[1]}")))
        _forget_models()
    connection.close()


class _Worker:
    """A worker process, the parent's end of its pipe, and the runs it has been given."""

    def __init__(self, context, threads: int):
        self.connection, child = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_worker, args=(child, threads, os.getpid()), daemon=True
        )
        self.process.start()
        child.close()
        self.runs = 0

    def start(self, target: str, kwargs: dict) -> None:
        self.connection.send((target, kwargs))
        self.runs += 1

    def result(self):
        """Returns the run's message, or None when the process died without sending one."""
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            return None

    def stop(self) -> None:
        """Asks an idle worker to end and waits for it."""
        try:
            self.connection.send(None)
        except OSError:  # already gone
            pass
        self.process.join()
        self.connection.close()

    def kill(self) -> None:
        self.process.terminate()
        self.process.join()
        self.connection.close()


def run_in_processes(
    runs: Iterable[tuple[object, dict]],
    jobs: int,
    on_done: Callable[[object, dict], None],
    threads: Optional[int] = None,
    target: Optional[str] = None,
    may_start: Optional[Callable[[], bool]] = None,
    on_failed: Optional[Callable[[object, BaseException], None]] = None,
    runs_per_worker: int = 1,
) -> None:
    """Calls `target(**kwargs)` for every `(key, kwargs)` of `runs`, `jobs` at a time, each in a
    worker process, and `on_done(key, outcome)` in this process as each one finishes.

    `target` returns a `keras_nasnet.training.TrainResult`; the outcome is its test accuracy,
    parameter count and training seconds, with the run's wall and CPU seconds. Runs start in
    the order given. When a run fails (an exception, or its process died) no new run starts,
    the running ones finish and are passed to `on_done`, and the first error is raised:
    nothing finished is lost. An interrupt (KeyboardInterrupt, which the command line also
    raises for SIGTERM and SIGHUP, or any exception of `on_done`, such as a full disk) stops
    the running processes at once and is raised. A worker whose parent dies without stopping
    it (SIGKILL) ends within a second. `may_start()`, if given, is asked before each run
    starts: once it returns False no run starts any more (the running ones finish).
    `on_failed(key, error)`, if given, receives each failed run instead (its exception, or a
    `WorkerDiedError`), and the other runs go on: for callers that record a failure as a
    result (a design-space study counts the models that failed).

    `runs_per_worker` (default 1: a fresh process for every run) lets a worker train that many
    runs one after another, Keras' session cleared between them: for many short runs, whose
    process start and TensorFlow import would otherwise cost a large share of each run. A
    worker that dies takes only its current run down; the next run gets a new worker.

    Raises:
        The first run's exception, or `WorkerDiedError` when a run's process died.
    """
    jobs = check_int(jobs, "jobs", minimum=1)
    runs_per_worker = check_int(runs_per_worker, "runs_per_worker", minimum=1)
    threads = default_threads(jobs) if threads is None else check_int(threads, "threads", minimum=1)
    target = TRAIN_TARGET if target is None else target
    context = multiprocessing.get_context("spawn")
    waiting = collections.deque(runs)
    idle = []  # workers waiting for their next run
    running = {}  # worker connection -> (key, worker)
    error = None
    try:
        while running or (waiting and error is None):
            while waiting and error is None and len(running) < jobs:
                if may_start is not None and not may_start():
                    waiting.clear()
                    break
                key, kwargs = waiting.popleft()
                worker = idle.pop() if idle else _Worker(context, threads)
                worker.start(target, kwargs)
                running[worker.connection] = (key, worker)
            if not running:  # nothing started (may_start said no): waiting on none never ends
                continue
            ready = multiprocessing.connection.wait(
                [*running, *(worker.process.sentinel for _, worker in running.values())]
            )
            sentinels = {worker.process.sentinel: c for c, (_, worker) in running.items()}
            for connection in dict.fromkeys(sentinels.get(r, r) for r in ready):
                key, worker = running.pop(connection)
                message = worker.result()
                failure = None
                if message is None:
                    worker.kill()
                    failure = WorkerDiedError(
                        f"The process training run {key!r} died (exit code "
                        f"{worker.process.exitcode}) before the run ended; the runs that "
                        "finished are saved: run again to train the rest."
                    )
                elif worker.runs >= runs_per_worker:
                    worker.stop()
                else:
                    idle.append(worker)
                if message is not None and message[0] == "failed":
                    failure = message[1]
                if failure is not None and on_failed is not None:
                    on_failed(key, failure)
                elif failure is not None:
                    error = error or failure
                else:
                    on_done(key, message[1])
    except BaseException:
        # An interrupt: the running runs could not be saved any more, so they stop now
        # instead of holding the cores until they end.
        for _, worker in running.values():
            worker.kill()
        for worker in idle:
            worker.kill()
        raise
    for worker in idle:
        worker.stop()
    if error is not None:
        raise error
