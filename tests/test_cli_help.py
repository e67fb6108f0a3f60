"""`keras-nasnet --help` starts no TensorFlow, and the values its help shows are the library's."""

import inspect
import json
import os
import subprocess
import sys
import time

import pytest

from keras_nasnet.cli import library_values

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAVY = ("tensorflow", "keras", "keras_tuner", "numpy", "tensorflow_datasets")
COMMANDS = (
    "models",
    "summary",
    "search",
    "export",
    "train",
    "plot",
    "report",
    "compare",
    "spaces",
    "main-job",
)
# Builds the parser, prints every command's help, then the heavy modules that got imported.
PROBE = """
import contextlib, io, json, sys
from keras_nasnet import cli
for argv in [["--help"]] + [[command, "--help"] for command in {commands!r}]:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.build_parser().parse_args(argv)
        except SystemExit as exited:
            assert exited.code == 0, argv
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({heavy!r}))))
"""


def _environment():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # TensorFlow would log at its default level
    return env


def test_building_the_parser_and_every_help_import_nothing_heavy():
    script = PROBE.format(commands=COMMANDS, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert result.stderr == ""


@pytest.mark.parametrize("argv", [["--help"], ["search", "--help"]])
def test_help_is_fast_and_prints_no_tensorflow_log(argv):
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "keras_nasnet.cli", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=120,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0 and "usage: keras-nasnet" in result.stdout
    assert result.stderr == ""  # TensorFlow logs its start on stderr
    # Under one second on an idle machine; slack for a loaded one (TensorFlow alone takes 4).
    assert seconds < 3.0, seconds


def test_a_flag_shared_evaluation_refuses_is_one_line_before_tensorflow_starts(tmp_path):
    argv = ["search", "--dataset", "d", "--directory", str(tmp_path / "run")]
    result = subprocess.run(
        [sys.executable, "-m", "keras_nasnet.cli", *argv, "--evaluation", "shared", "--no-tflite"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("keras-nasnet: error: --no-tflite does not apply to")
    assert len(result.stderr.splitlines()) == 1  # no TensorFlow log: it never started
    assert not (tmp_path / "run").exists()


def test_the_console_script_prints_help():
    script = os.path.join(os.path.dirname(sys.executable), "keras-nasnet")
    if not os.path.exists(script):
        pytest.skip("the package is not installed with its console script")
    result = subprocess.run(
        [script, "search", "--help"], capture_output=True, text=True, env=_environment()
    )
    assert result.returncode == 0 and "--shared-epochs" in result.stdout
    assert result.stderr == ""


def test_the_values_the_help_shows_are_the_librarys():
    from keras_nasnet.applications.zoo import MNASNET_ZOO, ZOO
    from keras_nasnet.cli import search as search_command
    from keras_nasnet.compare import DEFAULT_RECIPE, TOLERANCE
    from keras_nasnet.export import QUANTIZATIONS
    from keras_nasnet.search.enas import loop as enas
    from keras_nasnet.search.evaluation import (
        DEFAULT_PREFILTER_PROXY,
        evaluation_choices,
        parse_evaluation,
    )
    from keras_nasnet.search.pipeline import CHILD_SETTINGS, FINAL_SETTINGS
    from keras_nasnet.search.policy import ALGORITHMS, PRESETS
    from keras_nasnet.search.proxies import PROXIES
    from keras_nasnet.training import TrainingSettings

    def fields(settings):
        return {name: getattr(settings, name) for name in library_values.TRAINING_DEFAULTS}

    v = library_values
    assert v.ZOO_MODELS == (*ZOO, *MNASNET_ZOO)
    assert v.TRAINING_DEFAULTS == fields(TrainingSettings())
    assert v.CHILD_DEFAULTS == fields(CHILD_SETTINGS)
    assert v.FINAL_DEFAULTS == fields(FINAL_SETTINGS)
    assert v.COMPARE_DEFAULTS == fields(DEFAULT_RECIPE)
    assert v.COMPARE_TOLERANCE == TOLERANCE
    assert v.ALGORITHMS == tuple(ALGORITHMS) and v.PRESETS == tuple(PRESETS)
    assert v.PROXIES == tuple(PROXIES) and v.DEFAULT_PREFILTER_PROXY == DEFAULT_PREFILTER_PROXY
    assert v.EVALUATION_CHOICES == evaluation_choices()
    for text in search_command.PLAIN_EVALUATIONS:
        assert str(parse_evaluation(text)) == text
    assert v.QUANTIZATIONS == tuple(q for q in QUANTIZATIONS if q)
    shared = enas.SharedSettings()
    assert v.SHARED_DEFAULTS == {name: getattr(shared, name) for name in v.SHARED_DEFAULTS}
    epochs = inspect.signature(enas.search_shared.__wrapped__).parameters["epochs"].default
    assert v.SHARED_EPOCHS == epochs


def test_the_package_names_stay_importable_lazily():
    import keras_nasnet

    assert keras_nasnet.NASNetMobile.__name__ == "NASNetMobile"
    assert set(keras_nasnet.__all__) <= set(dir(keras_nasnet))
    for name in keras_nasnet.__all__:
        assert getattr(keras_nasnet, name) is not None, name
    from keras_nasnet import NASNET_A, Genotype, cli

    assert isinstance(NASNET_A.normal, Genotype) and callable(cli.main)
    with pytest.raises(AttributeError, match="no_such_name"):
        keras_nasnet.no_such_name  # noqa: B018
