"""What a running search writes besides its state: TensorBoard event files and the HTML report.

`NASOracle(monitors=...)` calls each of its monitors as ``monitor(oracle, final)`` after every
ended trial, once its state is saved and its lock released (``final``: the last trial of
`max_trials` has ended). The calls come from the oracle, not a tuner loop, so a distributed
chief, where no tuner runs, writes them too. A monitor that raises is logged and skipped: a
report must never stop a search. `search.run`, the pipeline (`keras-nasnet search`) and
`NASTuner` give the oracle `default_monitors`.

Each monitor writes into its `directory`: `search.run` and the pipeline pass the search
directory (the parent of the "search" project); None (the default, e.g. for a keras-tuner
project of any other name) means the oracle's own project directory, so several projects in
one directory never touch each other's files. Layout under that directory:

    tensorboard/controller/    scalars per controller update (step = update number):
                               controller/mean_reward, controller/baseline, controller/entropy,
                               controller/clip_fraction, controller/loss
    tensorboard/trials/<id>/   per trial: its hparams (the decision values and the algorithm,
                               TensorBoard's HParams tab) and trial/reward, trial/params,
                               trial/latency_ms (when measured) at step 0
    <project>/tensorboard.json what has been written, so a resumed search does not repeat it
    report.html, report_files/ see `keras_nasnet.search.reporting.report`
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Optional

from ... import compat
from ..evaluators.reward import LATENCY_METRIC, PARAMS_METRIC
from ..state import TENSORBOARD_DIR, CorruptStateError, Field, atomic_write, read_json_object
from ..state import TENSORBOARD_MARKER as MARKER_FILE

# What the marker holds: the controller updates and the trials already written as events.
_MARKER_FIELDS = {
    "updates": Field((int,), "a count of updates"),
    "trials": Field((list,), "a list of trial ids", items=Field((str,), "a trial id")),
}


def _read_marker(path: str) -> Optional[dict]:
    """Returns the marker at `path`, or None when it is missing, truncated or of the wrong
    shape (the events are then written again)."""
    if not os.path.exists(path):
        return None
    try:
        return read_json_object(path, "TensorBoard marker", _MARKER_FIELDS)
    except CorruptStateError:
        return None


CONTROLLER_SCALARS = ("mean_reward", "baseline", "entropy", "clip_fraction", "loss")
TRIAL_METRICS = (PARAMS_METRIC, LATENCY_METRIC)


def output_directory(oracle, directory: Optional[str] = None) -> str:
    """Returns where a monitor of `oracle` writes: `directory`, or else its project directory."""
    return compat.project_dir(oracle) if directory is None else directory


def default_monitors(directory: Optional[str] = None, report: bool = True) -> list:
    """Returns the usual monitors, writing into `directory` (None: the oracle's project directory):
    TensorBoard, and the HTML report unless `report` is False."""
    monitors = [TensorBoardMonitor(directory)]
    if report:
        monitors.append(ReportMonitor(directory=directory))
    return monitors


class TensorBoardMonitor:
    """Writes the controller's update statistics and each ended trial's hparams and metrics
    under `directory`/tensorboard (None: the oracle's project directory)."""

    def __init__(self, directory: Optional[str] = None):
        self.directory = directory

    def __call__(self, oracle, final: bool = False) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp

        log_dir = os.path.join(output_directory(oracle, self.directory), TENSORBOARD_DIR)
        # Inside the keras-tuner project, so starting over (overwrite) forgets it too.
        marker_path = os.path.join(compat.project_dir(oracle), MARKER_FILE)
        written = _read_marker(marker_path)
        if written is None:
            # Events of a search this directory held before it was started over, or of one
            # whose marker is unreadable: all are written again from the oracle's state.
            written = {"updates": 0, "trials": []}
            for name in ("controller", "trials"):
                shutil.rmtree(os.path.join(log_dir, name), ignore_errors=True)
        os.makedirs(log_dir, exist_ok=True)
        # Copies: another thread may end a trial meanwhile (monitors run outside the lock).
        new_updates = list(oracle.updates)[written["updates"] :]
        if new_updates:
            writer = tf.summary.create_file_writer(os.path.join(log_dir, "controller"))
            with writer.as_default():
                for update in new_updates:
                    for name in CONTROLLER_SCALARS:
                        if name in update:
                            tf.summary.scalar(
                                f"controller/{name}", update[name], step=update["num_updates"]
                            )
            writer.close()
        done = set(written["trials"])
        rewards = dict(oracle.rewards)
        new_trials = [t for t in list(oracle.end_order) if t not in done and t in rewards]
        for trial_id in new_trials:
            trial = oracle.trials[trial_id]
            writer = tf.summary.create_file_writer(os.path.join(log_dir, "trials", trial_id))
            with writer.as_default():
                hparams = dict(trial.hyperparameters.values, algorithm=oracle.algorithm)
                hp.hparams(hparams, trial_id=trial_id)
                reward = rewards[trial_id]
                if reward is not None:
                    tf.summary.scalar("trial/reward", reward, step=0)
                if trial.status == "COMPLETED":
                    for name in TRIAL_METRICS:
                        if trial.metrics.exists(name):
                            tf.summary.scalar(
                                f"trial/{name}", trial.metrics.get_last_value(name), step=0
                            )
            writer.close()
        if new_updates or new_trials:
            updates = written["updates"] + len(new_updates)
            written = {"updates": updates, "trials": written["trials"] + new_trials}
            atomic_write(marker_path, json.dumps(written).encode("utf-8"))


class ReportMonitor:
    """Rewrites the search report at most every `min_interval` seconds, and after the last trial,
    into `directory` (None: the oracle's project directory).

    Rendering takes seconds (charts, cell diagrams, a model build per new top architecture for
    its mult-adds), so the wait also grows to ten times the last rendering's duration.
    """

    def __init__(
        self, min_interval: float = 120.0, top_k: int = 10, directory: Optional[str] = None
    ):
        self.min_interval = float(min_interval)
        self.top_k = top_k
        self.directory = directory
        self._last: Optional[float] = time.monotonic()
        self._cost = 0.0

    def __call__(self, oracle, final: bool = False) -> None:
        from .report import write_report

        now = time.monotonic()
        if not final and now - self._last < max(self.min_interval, 10 * self._cost):
            return
        start = time.perf_counter()
        write_report(output_directory(oracle, self.directory), top_k=self.top_k)
        self._cost = time.perf_counter() - start
        self._last = time.monotonic()
