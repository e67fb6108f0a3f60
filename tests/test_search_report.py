import html
import json
import logging
import os
import re
import shutil
import subprocess

import keras_tuner
import pytest
import tensorflow as tf

from keras_nasnet import cli
from keras_nasnet.search import NASOracle, SearchSpace, monitors, report, run
from keras_nasnet.search.run import open_project
from tests.test_viz import png_size

SPACE = SearchSpace(num_blocks=1, ops=("identity", "sep_conv_3x3", "max_pool_3x3"))
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)


def synthetic_reward(architecture):
    ops = [
        op for g in (architecture.normal, architecture.reduction) for b in g.blocks for op in b.ops
    ]
    return ops.count("sep_conv_3x3") / len(ops)


def search_with_metrics(directory, algorithm, max_trials, top_k=3):
    """The oracle driven like `search.run`, but trials also report params and latency_ms."""
    writers = [
        monitors.TensorBoardMonitor(str(directory)),
        monitors.ReportMonitor(top_k=top_k, directory=str(directory)),
    ]
    oracle = NASOracle(
        SPACE,
        algorithm,
        objective=keras_tuner.Objective("reward", "max"),
        max_trials=max_trials,
        seed=1,
        update_every=3,
        monitors=writers,
    )
    open_project(oracle, str(directory), overwrite=True)
    for k in range(max_trials):
        trial = oracle.create_trial("t")
        reward = synthetic_reward(oracle.architecture(trial))
        oracle.update_trial(
            trial.trial_id, {"reward": reward, "params": 1000.0 + k, "latency_ms": 2.0 + k / 10}
        )
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return oracle


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    parent = tmp_path_factory.mktemp("runs")
    ppo = search_with_metrics(parent / "ppo", "ppo", 9)
    random = search_with_metrics(parent / "random", "random", 6)
    return parent, {"ppo": ppo, "random": random}


def best_of(oracle):
    trial_id = max(oracle.rewards, key=lambda t: (oracle.rewards[t], -int(t)))
    return trial_id, oracle.rewards[trial_id]


def test_the_oracle_writes_the_report_when_its_last_trial_ends(runs):
    parent, oracles = runs
    for name, oracle in oracles.items():
        page = (parent / name / "report.html").read_text()
        trial_id, reward = best_of(oracle)
        first_row = re.search(r'<table id="top">.*?</tr>\n<tr>(.*?)</tr>', page, re.S).group(1)
        cells = re.findall(r"<td>(.*?)</td>", first_row, re.S)
        assert cells[:4] == ["1", name, trial_id, f"{reward:.4f}"]
        params = oracle.trials[trial_id].metrics.get_last_value("params")
        assert cells[4] == f"{params:,.0f}"
        assert int(cells[5].replace(",", "")) > 0  # mult-adds
        assert cells[6] == f"{oracle.trials[trial_id].metrics.get_last_value('latency_ms'):.2f}"
        assert page.count("<tr><td>") == 1 + 3  # the runs table's row, then top_k=3 rows
        cache = json.loads((parent / name / "report_files" / "mult_adds.json").read_text())
        assert len(cache) == 3
        for png in ("rewards.png", "best_0_normal.png", "best_0_reduction.png"):
            width, height = png_size(parent / name / "report_files" / png)
            assert width > 200 and height > 200
    assert (parent / "ppo" / "report_files" / "controller.png").exists()
    assert not (parent / "random" / "report_files" / "controller.png").exists()


def test_report_command_draws_rl_and_random_runs_side_by_side(runs, capsys):
    parent, oracles = runs
    assert cli.main(["report", str(parent), "--top", "4"]) == 0
    assert capsys.readouterr().out.strip() == str(parent / "report.html")
    page = (parent / "report.html").read_text()
    runs_table = re.search(r'<table id="runs">(.*?)</table>', page, re.S).group(1)
    assert (
        "<td>ppo</td><td>9</td><td>9</td>" in runs_table
        and "<td>random</td><td>6</td><td>6</td>" in runs_table
    )
    assert "ppo: trial" in page and "random: trial" in page  # each run's best cells
    assert (
        page.count('src="data:image/png;base64,') == 2 + 2 * 2
    )  # rewards, controller, 2 cells per run


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium binary (scripts/setup.sh installs Debian's `chromium` as root)",
)
def test_report_opens_in_headless_chromium_with_every_image_loaded(runs, tmp_path):
    parent, oracles = runs
    page = report.write_report(str(parent), top_k=2)
    # Records each image's decoded size once the page has loaded, for --dump-dom to print.
    probe = (
        "<script>window.addEventListener('load', () => { const pre = document.createElement('pre');"
        " pre.id = 'probe'; pre.textContent = JSON.stringify(Array.from(document.images, i => "
        "[i.alt, i.complete, i.naturalWidth, i.naturalHeight])); document.body.appendChild(pre); "
        "});</script>"
    )
    probed = tmp_path / "probed.html"
    probed.write_text(open(page).read().replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = result.stdout
    images = json.loads(
        html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1))
    )
    assert len(images) == 6
    for alt, complete, width, height in images:
        assert complete and width > 100 and height > 100, alt
    rows = re.findall(
        r"<tr>(.*?)</tr>", re.search(r'<table id="top">(.*?)</table>', dom, re.S).group(1), re.S
    )
    first = re.findall(r"<td>(.*?)</td>", rows[1], re.S)
    reward, name, trial_id = max(
        (r, name, t)
        for name, o in oracles.items()
        for t, r in o.rewards.items()
        if r == max(o.rewards.values())
    )
    assert float(first[3]) == pytest.approx(reward, abs=1e-4)
    assert first[1] in oracles and oracles[first[1]].rewards[first[2]] == pytest.approx(reward)


def read_scalars(directory):
    """{tag: {step: value}} of the event files of one TensorBoard run (a directory and below)."""
    values = {}
    for root, _, files in os.walk(directory):
        for name in files:
            if not name.startswith("events.out.tfevents"):
                continue
            for event in tf.compat.v1.train.summary_iterator(os.path.join(root, name)):
                for value in event.summary.value:
                    if value.metadata.plugin_data.plugin_name == "scalars":
                        steps = values.setdefault(value.tag, {})
                        assert event.step not in steps, (
                            f"{value.tag} step {event.step} written twice"
                        )
                        steps[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_tensorboard_events_hold_every_controller_update_and_trial(runs):
    parent, oracles = runs
    oracle = oracles["ppo"]
    controller = read_scalars(parent / "ppo" / "tensorboard" / "controller")
    assert sorted(controller) == sorted(f"controller/{n}" for n in monitors.CONTROLLER_SCALARS)
    assert len(oracle.updates) == 3
    for update in oracle.updates:
        for name in monitors.CONTROLLER_SCALARS:
            assert controller[f"controller/{name}"][update["num_updates"]] == pytest.approx(
                update[name], rel=1e-6
            )
    trials_dir = parent / "ppo" / "tensorboard" / "trials"
    assert sorted(os.listdir(trials_dir)) == sorted(oracle.trials)
    for trial_id, reward in oracle.rewards.items():
        scalars = read_scalars(trials_dir / trial_id)
        assert scalars["trial/reward"][0] == pytest.approx(reward)
        assert scalars["trial/latency_ms"][0] == pytest.approx(
            oracle.trials[trial_id].metrics.get_last_value("latency_ms")
        )
        tags = {
            v.tag
            for f in os.listdir(trials_dir / trial_id)
            for e in tf.compat.v1.train.summary_iterator(str(trials_dir / trial_id / f))
            for v in e.summary.value
        }
        assert "_hparams_/session_start_info" in tags


def test_a_resumed_search_adds_its_events_without_repeating_earlier_ones(tmp_path):
    run(synthetic_reward, SPACE, "reinforce", max_trials=4, directory=str(tmp_path), update_every=2)
    run(synthetic_reward, SPACE, "reinforce", max_trials=8, directory=str(tmp_path), update_every=2)
    scalars = read_scalars(
        tmp_path / "tensorboard" / "controller"
    )  # raises if a step was written twice
    assert sorted(scalars["controller/mean_reward"]) == [1, 2, 3, 4]
    trials = tmp_path / "tensorboard" / "trials"
    assert len(os.listdir(trials)) == 8
    for trial_id in os.listdir(trials):
        assert list(read_scalars(trials / trial_id)["trial/reward"]) == [0]
    assert not (tmp_path / "report.html").exists()  # search.run writes the report only when asked
    run(
        synthetic_reward,
        SPACE,
        "reinforce",
        max_trials=2,
        directory=str(tmp_path),
        overwrite=True,
        update_every=2,
    )
    assert sorted(
        read_scalars(tmp_path / "tensorboard" / "controller")["controller/mean_reward"]
    ) == [1]
    assert len(os.listdir(trials)) == 2


def test_a_failing_monitor_is_logged_and_the_search_goes_on(tmp_path, caplog):
    def broken(oracle, final):
        raise RuntimeError("renderer exploded")

    oracle = NASOracle(
        SPACE,
        "random",
        objective=keras_tuner.Objective("reward", "max"),
        max_trials=3,
        monitors=[broken],
    )
    open_project(oracle, str(tmp_path), overwrite=True)
    with caplog.at_level(logging.ERROR, logger="keras_nasnet.search"):
        for _ in range(3):
            trial = oracle.create_trial("t")
            oracle.update_trial(trial.trial_id, {"reward": 0.5})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    assert len(oracle.rewards) == 3
    failures = [r for r in caplog.records if "broken failed" in r.getMessage()]
    assert len(failures) == 3 and "renderer exploded" in str(failures[0].exc_info[1])


def test_the_report_monitor_waits_between_renderings_but_not_for_the_last(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(report, "write_report", lambda directory, top_k: calls.append(directory))

    class Oracle:
        _project_dir = str(tmp_path / "search")

    monitor = monitors.ReportMonitor(min_interval=3600)
    monitor(Oracle(), final=False)
    assert calls == []
    monitor(Oracle(), final=True)
    assert calls == [str(tmp_path / "search")]  # no directory given: the project's own
    eager = monitors.ReportMonitor(min_interval=0, directory=str(tmp_path))
    eager(Oracle(), final=False)
    assert calls[1:] == [str(tmp_path)]


def test_report_of_a_directory_without_a_search_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "holds no search" in capsys.readouterr().err
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "No such directory" in capsys.readouterr().err
    with pytest.raises(ValueError, match="top_k"):
        report.write_report(str(tmp_path), top_k=0)


def test_a_search_over_another_space_is_reported_by_its_values_beside_a_cell_search(
    runs, tmp_path, capsys
):
    from tests.test_search_any_space import tuner_for

    tuner = tuner_for(tmp_path / "kt", "evolution", 6)  # a stock Tuner, a plain hypermodel
    tuner.search(verbose=0)
    project = tmp_path / "kt" / "search"
    assert cli.main(["report", str(project)]) == 0
    page = (project / "report.html").read_text()
    best = tuner.oracle.get_best_trials(1)[0]
    first_row = re.search(r'<table id="top">.*?</tr>\n<tr>(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", first_row, re.S)
    assert cells[:4] == ["1", "search (evolution)", best.trial_id, f"{best.score:.4f}"]
    assert "mult-adds" not in page and "Best cells" not in page
    assert f"<pre>{html.escape(json.dumps(best.hyperparameters.values, indent=1))}</pre>" in page
    assert not (project / "report_files" / "mult_adds.json").exists()  # nothing built

    # Beside cell searches: their cells and mult-adds, its values, one page.
    parent, _ = runs
    shutil.copytree(project, parent / "kt")
    # --top 4 as the side-by-side test: the cells' mult-adds are then counted already.
    assert cli.main(["report", str(parent), "--top", "4"]) == 0
    capsys.readouterr()
    page = (parent / "report.html").read_text()
    assert "<h2>Best cells</h2>" in page and "<h2>Best points</h2>" in page
    assert "kt (evolution): trial" in page
    shutil.rmtree(parent / "kt")
