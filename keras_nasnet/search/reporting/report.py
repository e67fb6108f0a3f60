"""The search reports: ``report.html`` (a self-contained page) and ``report.md`` (the summary
`keras-nasnet search` writes at its end).

The HTML page is built from what is on disk (``oracle.json``, ``nas_state.json``,
``trial_*/trial.json`` of a project), so the writer a running search calls
(`reporting.monitors.ReportMonitor`) and `keras-nasnet report DIR` share this one
code path and give the same page.

`write_report(DIR)` accepts either

- a search directory (one that holds ``search/oracle.json``, as `keras-nasnet search` and
  `search.run` lay it out) or a keras-tuner project directory of a `NASOracle` (one that
  holds ``oracle.json`` and ``nas_state.json``, whatever the project's name): the report of
  that search, or
- a parent directory whose immediate subdirectories are such directories (for example
  ``runs/ppo/`` and ``runs/random/``, or the projects of one keras-tuner directory): one
  report drawing every run beside the others, so reinforcement-learning and random-search
  runs can be compared.

It writes ``DIR/report.html`` (images embedded, so the page can be mailed or archived alone)
and the same images as PNGs under ``DIR/report_files/``: ``rewards.png`` (reward vs trial,
each trial, running best and moving average, one colour per run), ``controller.png`` (the
controller's mean reward, baseline and entropy per update, for RL runs) and the two cells of
each run's best architecture. A search over any other keras-tuner space (the any-space oracles:
`keras-nasnet search --space macro|mnasnet`, or a hypermodel of one's own) has no cells: its
trials are shown by their hyperparameter values (`SpacePoint`), and its best one also as the
search's ``best_architecture.json`` writes it (MnasNet's block strings, the macro layers). The
table of top architectures lists reward, the fidelity a trial trained to (multi-fidelity runs,
whose trials rank by fidelity first), parameters (the trial metric ``params``), mult-adds and
latency (the trial metric ``latency_ms``, when some trial measured it). Mult-adds (of cells)
are counted on the architecture built at `MULT_ADDS_SETTINGS` (the final model's N = 2, F = 16
on a 32x32x3, 10-class input: one fixed reference so runs on different datasets compare),
cached in ``report_files/mult_adds.json`` because building a model takes seconds.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Optional

from ...genotypes import Architecture
from ...html_pages import Raw, embedded_image, page, table
from ...validation import check_int
from ..evaluators.reward import ACCURACY_METRIC, LATENCY_METRIC, PARAMS_METRIC
from ..spaces.nasnet_cells import SearchSpace
from ..state import (
    BEST_FILE,
    NAS_STATE_FIELDS,
    ORACLE_FIELDS,
    ORACLE_FILE,
    PROJECT_NAME,
    REPORT_FILES_DIR,
    REPORT_HTML,
    REPORT_MARKDOWN,
    STATE_FILE,
    TRIAL_FIELDS,
    TRIAL_FILE,
    atomic_write,
)
from .fidelity_view import (
    fidelity_html,
    fidelity_markdown,
    multi_fidelity_state,
    trial_fidelities,
)

logger = logging.getLogger("keras_nasnet.search")

REPORT_FILE = REPORT_HTML
FILES_DIR = REPORT_FILES_DIR
MULT_ADDS_CACHE = "mult_adds.json"
# The final model's N and F (pipeline.FINAL_SETTINGS) at a CIFAR-sized input.
MULT_ADDS_SETTINGS = {"num_blocks": 2, "filters": 16, "input_shape": (32, 32, 3), "classes": 10}


@dataclass(frozen=True)
class SpacePoint:
    """A trial's point in a space other than NASNet's cells (an any-space oracle's search):
    its hyperparameter values."""

    values: dict

    def to_json(self, indent: Optional[int] = None, sort_keys: bool = False) -> str:
        """Returns the values as JSON."""
        return json.dumps(self.values, indent=indent, sort_keys=sort_keys)


@dataclass
class TrialRecord:
    """One trial as read back from disk: its `architecture` is an `Architecture` (a search of
    NASNet cells) or a `SpacePoint` (any other space)."""

    trial_id: str
    status: str
    reward: float  # NaN: failed, or no reward
    architecture: object
    params: Optional[float] = None
    latency_ms: Optional[float] = None


@dataclass
class RunRecord:
    """One search directory as read back from disk: trials in start order and controller updates."""

    directory: str
    label: str
    algorithm: str
    trials: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    # A multi-fidelity search's brackets and rewards (`fidelity_view.multi_fidelity_state`).
    multi_fidelity: Optional[dict] = None
    # Of a search over another space: its best_architecture.json ({"space", "point", ...}).
    best_file: Optional[dict] = None
    _fidelities: Optional[dict] = field(default=None, init=False, repr=False, compare=False)

    def completed(self) -> list:
        """Returns the trials with a reward."""
        return [t for t in self.trials if not math.isnan(t.reward)]

    def best(self) -> Optional[TrialRecord]:
        """Returns the completed trial with the highest reward (the earliest on ties), or None;
        in a multi-fidelity search, the highest reward at the highest fidelity reached."""
        completed = self.completed()
        if not completed:
            return None
        if self.multi_fidelity is None:
            return max(completed, key=lambda t: t.reward)
        return max(completed, key=lambda t: (self.fidelity(t), t.reward))

    def fidelity(self, trial: TrialRecord) -> Optional[int]:
        """Returns the fidelity `trial` trained to in a multi-fidelity run (0 for one the
        schedule does not list); None for a run of one fidelity."""
        if self.multi_fidelity is None:
            return None
        if self._fidelities is None:  # the state's walk, once per run, not once per trial
            self._fidelities = trial_fidelities(self.multi_fidelity)
        return self._fidelities.get(trial.trial_id, 0)


def project_directory(directory: str) -> Optional[str]:
    """Returns the NAS project `directory` holds: itself (a keras-tuner project of a
    `NASOracle`), its ``search/`` subdirectory (a search directory), or None."""
    if all(os.path.isfile(os.path.join(directory, name)) for name in (ORACLE_FILE, STATE_FILE)):
        return directory
    if os.path.isfile(os.path.join(directory, PROJECT_NAME, ORACLE_FILE)):
        return os.path.join(directory, PROJECT_NAME)
    return None


def is_search_directory(directory: str) -> bool:
    """Returns whether `directory` holds a search (see `project_directory`)."""
    return project_directory(directory) is not None


def find_runs(directory: str) -> list[str]:
    """Returns the search directories `write_report(directory)` covers: `directory` itself, or
    its immediate subdirectories that are search directories (sorted by name).

    Raises:
        FileNotFoundError: `directory` does not exist or holds no search.
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No such directory: {directory!r}.")
    if is_search_directory(directory):
        return [directory]
    runs = sorted(
        os.path.join(directory, name)
        for name in os.listdir(directory)
        if is_search_directory(os.path.join(directory, name))
    )
    if not runs:
        raise FileNotFoundError(
            f"{directory!r} holds no search: expected {PROJECT_NAME}/{ORACLE_FILE} (or a project's "
            f"{ORACLE_FILE} and {STATE_FILE}) in it or in one of its subdirectories."
        )
    return runs


def _read_json(path: str, what: str, fields: Optional[dict] = None) -> dict:
    from ..state import read_json_object  # names a truncated or wrong-shaped file

    return read_json_object(path, what, fields)


def _last_metric(trial_state: dict, name: str) -> Optional[float]:
    history = trial_state.get("metrics", {}).get("metrics", {}).get(name)
    observations = (history or {}).get("observations") or []
    if not observations:
        return None
    value = observations[-1]["value"]
    return float(value[0] if isinstance(value, list) else value)


def load_run(directory: str, label: Optional[str] = None) -> RunRecord:
    """Returns the `RunRecord` of the search saved in `directory`.

    Raises:
        FileNotFoundError: `directory` is not a search directory.
    """
    project = project_directory(directory)
    if project is None:
        raise FileNotFoundError(
            f"{directory!r} is not a search directory (no {PROJECT_NAME}/{ORACLE_FILE}, and no "
            f"{ORACLE_FILE} with {STATE_FILE})."
        )
    oracle_state = _read_json(os.path.join(project, ORACLE_FILE), "oracle state", ORACLE_FIELDS)
    state_path = os.path.join(project, STATE_FILE)
    nas_state = (
        _read_json(state_path, "controller state", NAS_STATE_FIELDS)
        if os.path.exists(state_path)
        else {}
    )
    config = nas_state.get("space")
    if isinstance(config, list):  # an any-space oracle's decisions: no cells to draw
        point_of = SpacePoint
    elif config is not None:
        point_of = SearchSpace.from_config(config).from_values
    else:
        point_of = None
    rewards = nas_state.get("rewards", {})
    run = RunRecord(
        directory=directory,
        label=label or os.path.basename(os.path.normpath(directory)),
        algorithm=nas_state.get("algorithm", "?"),
        updates=list(nas_state.get("updates", [])),
        multi_fidelity=multi_fidelity_state(nas_state),
        best_file=_best_file(directory, project) if point_of is SpacePoint else None,
    )
    for trial_id in oracle_state.get("start_order", []):
        path = os.path.join(project, f"trial_{trial_id}", TRIAL_FILE)
        if not os.path.exists(path) or point_of is None:
            continue
        trial = _read_json(path, "trial", TRIAL_FIELDS)
        reward = rewards.get(trial_id)
        run.trials.append(
            TrialRecord(
                trial_id=trial_id,
                status=trial.get("status", "?"),
                reward=float("nan") if reward is None else float(reward),
                architecture=point_of(trial["hyperparameters"]["values"]),
                params=_last_metric(trial, PARAMS_METRIC),
                latency_ms=_last_metric(trial, "latency_ms"),
            )
        )
    return run


def _best_file(directory: str, project: str) -> Optional[dict]:
    """Returns the best_architecture.json a network search keeps beside its project, or None
    (none there, or unreadable: the report goes on without it)."""
    if os.path.normpath(directory) == os.path.normpath(project):
        return None  # a keras-tuner project of one's own: no search directory around it
    path = os.path.join(directory, BEST_FILE)
    if not os.path.exists(path):
        return None
    try:
        best = _read_json(path, "best architecture")
    except (OSError, ValueError):
        logger.warning("keras-nasnet: %s is unreadable; the report leaves it out.", path)
        return None
    return best if "point" in best else None


def load_runs(directory: str) -> list[RunRecord]:
    """Returns a `RunRecord` per search `find_runs(directory)` finds, labelled
    "<name> (<algorithm>)" (just the name when it is the algorithm)."""
    runs = [load_run(path) for path in find_runs(directory)]
    for run in runs:
        if run.label != run.algorithm:
            run.label = f"{run.label} ({run.algorithm})"
    return runs


class MultAddsCache:
    """Mult-adds of architectures at `MULT_ADDS_SETTINGS`, remembered in a JSON file."""

    def __init__(self, path: str):
        self.path = path
        try:
            counts = _read_json(path, "mult-adds cache")
        except (OSError, ValueError):
            counts = {}
        # A cache: an entry that is not a count is counted again, not trusted.
        self.counts = {
            key: value
            for key, value in counts.items()
            if isinstance(value, int) and not isinstance(value, bool)
        }

    def __call__(self, architecture: Architecture) -> int:
        key = architecture.to_json(sort_keys=True)
        if key not in self.counts:
            self.counts[key] = count_architecture_mult_adds(architecture)
            atomic_write(self.path, json.dumps(self.counts).encode("utf-8"))
        return self.counts[key]


def count_architecture_mult_adds(
    architecture: Architecture, settings: dict = MULT_ADDS_SETTINGS
) -> int:
    """Returns the mult-adds of `architecture` built as a CIFAR-stem NASNet at `settings`."""
    from ...mult_adds import count_mult_adds
    from ...nasnet import NASNetModel

    model = NASNetModel(
        architecture,
        filters=settings["filters"],
        num_blocks=settings["num_blocks"],
        stem="cifar",
        skip_reduction=False,
        input_shape=tuple(settings["input_shape"]),
        classes=settings["classes"],
        seed=0,  # seeded initializers draw nothing from Keras' global generator
    )
    return int(count_mult_adds(model))


def top_trials(runs: list[RunRecord], k: int) -> list[tuple[RunRecord, TrialRecord]]:
    """Returns the `k` best completed trials across `runs`, best first: by reward, except that
    a multi-fidelity run's trials rank by the fidelity they reached first (a reward after one
    epoch is not comparable with one after nine), as `RunRecord.best` picks."""
    scored = [(run, trial) for run in runs for trial in run.completed()]

    def key(item):
        fidelity = item[0].fidelity(item[1])
        return (-(math.inf if fidelity is None else fidelity), -item[1].reward)

    scored.sort(key=key)
    return scored[:k]


def _number(value: Optional[float], fmt: str) -> str:
    return (
        ""
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, fmt)
    )


def write_report(directory: str, top_k: int = 10, mult_adds: bool = True) -> str:
    """Writes ``report.html`` and ``report_files/*.png`` into `directory` and returns the HTML's
    path.

    Args:
        directory: a search directory, or a parent of several (see the module docstring).
        top_k: rows of the table of top architectures.
        mult_adds: count the mult-adds of the architectures in that table (cached).

    Raises:
        FileNotFoundError: `directory` holds no search.
        ValueError: `top_k` is not a positive int.
    """
    from ... import viz

    top_k = check_int(top_k, "top_k", minimum=1)
    runs = load_runs(directory)
    files = os.path.join(directory, FILES_DIR)
    os.makedirs(files, exist_ok=True)
    sections = [_summary_table(runs)]
    sections += [
        fidelity_html(run.multi_fidelity, run.label, index)
        for index, run in enumerate(runs)
        if run.multi_fidelity is not None
    ]

    rewards_png = viz.save_figure(
        viz.reward_figure([(run.label, [t.reward for t in run.trials]) for run in runs]),
        [os.path.join(files, "rewards.png")],
    )[0]
    sections.append(f"<h2>Reward vs trial</h2>\n{embedded_image(rewards_png, 'reward vs trial')}")
    with_updates = [(run.label, run.updates) for run in runs if run.updates]
    if with_updates:
        controller_png = viz.save_figure(
            viz.updates_figure(with_updates), [os.path.join(files, "controller.png")]
        )[0]
        image = embedded_image(controller_png, "controller updates")
        sections.append(f"<h2>Controller</h2>\n{image}")

    with_cells = any(isinstance(t.architecture, Architecture) for run in runs for t in run.trials)
    counter = (
        MultAddsCache(os.path.join(files, MULT_ADDS_CACHE)) if mult_adds and with_cells else None
    )
    sections.append(_top_table(runs, top_trials(runs, top_k), counter))

    cells, points = ["<h2>Best cells</h2>"], ["<h2>Best points</h2>"]
    for index, run in enumerate(runs):
        best = run.best()
        if best is None:
            continue
        heading = (
            f"<h3>{html.escape(run.label)}: trial {html.escape(best.trial_id)}, reward "
            f"{best.reward:.4f}</h3>"
        )
        if isinstance(best.architecture, SpacePoint):
            points += [heading, _point_html(best.architecture, run.best_file)]
            continue
        cells.append(heading)
        for cell in ("normal", "reduction"):
            png = viz.plot_cell(
                getattr(best.architecture, cell),
                os.path.join(files, f"best_{index}_{cell}.png"),
                title=f"{cell} cell",
                formats=("png",),
            )[0]
            cells.append(embedded_image(png, f"{run.label} best {cell} cell"))
    sections += ["\n".join(part) for part in (cells, points) if len(part) > 1]

    text = page(
        f"Search report: {os.path.basename(os.path.abspath(directory))}",
        sections,
        "keras-nasnet report DIR",
    )
    path = os.path.join(directory, REPORT_FILE)
    atomic_write(path, text.encode("utf-8"))
    return path


def _point_html(point: SpacePoint, best_file: Optional[dict]) -> str:
    """The best trial's values, and the search's best_architecture.json when it names them."""
    parts = [f"<pre>{html.escape(point.to_json(indent=1))}</pre>"]
    if best_file is not None and best_file.get("values") == point.values:
        space = html.escape(str(best_file.get("space", "?")))
        written = html.escape(json.dumps(best_file["point"], indent=1))
        parts.insert(0, f"<p>As {BEST_FILE} writes it ({space} space):</p><pre>{written}</pre>")
    return "\n".join(parts)


def write_search_reports(result, oracle, top_k: int = 10) -> str:
    """Writes ``report.md`` and ``report.html`` of a finished `keras-nasnet search`; returns the
    Markdown's path. A failure of the HTML page (charts, diagrams) is logged, not raised.

    Args:
        result: the pipeline's `SearchResult`.
        oracle: the `NASOracle` that ran the search (its algorithm and controller updates).

    Raises:
        OSError: report.md could not be written.
    """
    path = write_markdown_report(result, oracle)
    try:
        write_report(result.directory, top_k=top_k)
    except Exception:  # the summary is written; a chart is not worth the search's result
        logger.exception("keras-nasnet: %s could not be written.", REPORT_HTML)
    return path


def write_markdown_report(result, oracle) -> str:
    """Writes ``report.md`` (trials, best architecture, final model) into `result.directory`
    and returns its path.

    Args:
        result: the pipeline's `SearchResult`.
        oracle: the `NASOracle` that ran the search (its algorithm and controller updates).

    Raises:
        OSError: the file could not be written.
    """
    history = result.history
    lines = [
        "# Search report",
        "",
        f"- algorithm: {oracle.algorithm}, trials: {len(history)} "
        f"({sum(1 for s in history.statuses if s == 'COMPLETED')} completed)",
    ]
    evaluation = str(getattr(oracle, "evaluation", "train"))
    if evaluation != "train":  # the reward is then a proxy's score, not an accuracy
        lines.append(f"- evaluation: {evaluation}; best reward: {result.best_reward:.6g}")
    elif result.reward is None:
        lines.append(f"- best validation accuracy: {result.best_reward:.4f}")
    else:
        r = result.reward
        lines.append(
            f"- best reward: {result.best_reward:.4f} (MnasNet: val_accuracy * (latency_ms / "
            f"{r.target_ms:g}) ** ({r.alpha:g} under the target, {r.beta:g} over))"
        )
    if result.final is not None:
        lines.append(
            f"- final model: `{os.path.basename(result.final.path)}`, test accuracy "
            f"{result.final.test_accuracy:.4f}, {result.final.metrics['params']:,} parameters"
        )
    if result.tflite_latency is not None:
        latency = result.tflite_latency
        lines.append(
            f"- TF-Lite: `{os.path.basename(result.tflite_path)}`, {latency.size_bytes / 1e6:.2f} "
            f"MB, batch-1 latency median {latency.median_ms:.2f} ms, p90 {latency.p90_ms:.2f} ms "
            "(1 thread, this machine)"
        )
    candidate = getattr(result, "best_candidate", None)
    if candidate is not None:
        lines.append(
            f"- best candidate: trials {' -> '.join(candidate['trial_ids'])}, its result at "
            f"fidelity {candidate['fidelity']} (of {candidate['max_fidelity']}, trial "
            f"{candidate['result_trial_id']})"
        )
    best_json = result.best_architecture.to_json(indent=2)
    lines += ["", "## Best architecture", "", "```json", best_json, "```", ""]
    state = multi_fidelity_state(oracle)
    if state is not None:
        lines += [*fidelity_markdown(state), ""]
    with_latency = any(LATENCY_METRIC in metrics for metrics in history.metrics)
    extra_header = (" | val_accuracy | latency_ms", "|---|---") if with_latency else ("", "")
    lines += [
        "## Trials",
        "",
        f"| trial | status | reward{extra_header[0]} | params |",
        f"|---|---|---{extra_header[1]}|---|",
    ]
    rows = zip(history.trial_ids, history.rewards, history.statuses, history.metrics)
    for trial_id, reward, status, metrics in rows:
        params = metrics.get(PARAMS_METRIC)
        reward_text = "" if math.isnan(reward) else f"{reward:.4f}"
        latency_cells = ""
        if with_latency:
            accuracy, latency = metrics.get(ACCURACY_METRIC), metrics.get(LATENCY_METRIC)
            latency_cells = (
                f" | {'' if accuracy is None else f'{accuracy:.4f}'}"
                f" | {'' if latency is None else f'{latency:.2f}'}"
            )
        params_text = "" if params is None else f"{int(params):,}"
        lines.append(f"| {trial_id} | {status} | {reward_text}{latency_cells} | {params_text} |")
    if oracle.updates:
        lines += [
            "",
            "## Controller updates",
            "",
            "| update | after trial | mean reward | baseline | entropy |",
            "|---|---|---|---|---|",
        ]
        for u in oracle.updates:
            lines.append(
                f"| {u['num_updates']} | {u['trial_id']} | {u['mean_reward']:.4f} | "
                f"{u['baseline']:.4f} | {u['entropy']:.2f} |"
            )
    path = os.path.join(result.directory, REPORT_MARKDOWN)
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def _summary_table(runs: list[RunRecord]) -> str:
    rows = []
    for run in runs:
        best = run.best()
        reward = None if best is None else f"{best.reward:.4f}"
        rows.append([run.label, len(run.trials), len(run.completed()), reward, len(run.updates)])
    header = ["run", "trials", "completed", "best reward", "controller updates"]
    return "<h2>Runs</h2>\n" + table(header, rows, "runs")


def _top_table(runs, top, counter: Optional[MultAddsCache]) -> str:
    with_latency = any(t.latency_ms is not None for run in runs for t in run.trials)
    with_fidelity = any(run.multi_fidelity is not None for run in runs)
    header = ["rank", "run", "trial", "reward"]
    if with_fidelity:
        header.append("fidelity (epochs)")
    header.append("params")
    if counter is not None:
        header.append("mult-adds")
    if with_latency:
        header.append("latency (ms)")
    header.append("architecture")
    rows = []
    for rank, (run, trial) in enumerate(top, 1):
        cells = [rank, run.label, trial.trial_id, f"{trial.reward:.4f}"]
        if with_fidelity:
            fidelity = run.fidelity(trial)
            cells.append("" if fidelity is None else fidelity)
        cells.append(_number(trial.params, ",.0f"))
        if counter is not None:
            cell = isinstance(trial.architecture, Architecture)
            cells.append(f"{counter(trial.architecture):,}" if cell else "")
        if with_latency:
            cells.append(_number(trial.latency_ms, ".2f"))
        architecture = html.escape(trial.architecture.to_json(indent=1))
        cells.append(Raw(f"<details><summary>JSON</summary><pre>{architecture}</pre></details>"))
        rows.append(cells)
    note = ""
    if counter is not None:
        s = MULT_ADDS_SETTINGS
        note = (
            "<p>Mult-adds: the architecture as a CIFAR-stem NASNet "
            f"{s['num_blocks']}@F{s['filters']} on a {'x'.join(map(str, s['input_shape']))} input "
            "(the final model's N and F).</p>"
        )
    return f"<h2>Top architectures</h2>\n{note}" + table(header, rows, "top")


def html_page(title: str, body: str, command: str) -> str:
    """Returns a self-contained HTML page in the reports' style: `title` (plain text), `body`
    (HTML) and a line saying when it was generated and which `command` rewrites it (the same
    as `keras_nasnet.html_pages.page(title, [body], command)`)."""
    return page(title, [body], command)
