"""`keras_nasnet.compare` as a package: its import paths, old and new, and their import order."""

import subprocess
import sys
import textwrap
import threading

import keras_nasnet.compare as package
from keras_nasnet.compare import core, report, runner, stats

from .helpers import subprocess_env


def test_the_old_search_import_paths_give_the_same_objects():
    from keras_nasnet.search import ComparisonResult, compare, compare_report, parallel_runs, welch
    from keras_nasnet.search.compare import DEFAULT_RECIPE, RUNS_DIR, TOLERANCE, run_path

    assert compare is package.compare is core.compare
    assert ComparisonResult is package.ComparisonResult
    assert DEFAULT_RECIPE is package.DEFAULT_RECIPE and TOLERANCE == package.TOLERANCE
    assert run_path("d", "k", 2).endswith(f"{RUNS_DIR}/k-seed2.json")
    assert welch.welch_interval is stats.welch_interval
    assert parallel_runs.run_in_processes is runner.run_in_processes
    assert compare_report.markdown_table is report.markdown_table


_IMPORT_ORDER = """
import sys
{first}
{second}
import keras_nasnet.compare, keras_nasnet.search
assert keras_nasnet.search.compare is keras_nasnet.compare.compare
print("ok")
"""


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_either_package_imports_first():
    # search re-exports `compare` and compare draws cells from search: a module-level import
    # of search in compare would make `import keras_nasnet.compare` fail when it comes first.
    compare_first = (
        "from keras_nasnet.compare import compare",
        "assert 'keras_nasnet.search' not in sys.modules, 'compare loaded search on import'",
    )
    search_first = ("from keras_nasnet.search import compare", "import keras_nasnet.search.welch")
    for first, second in (compare_first, search_first):
        done = run_python(_IMPORT_ORDER.format(first=first, second=second))
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_runs_that_may_not_start_end_the_runner_at_once():
    # A comparison called after its last start time (the main job's second call) has runs
    # waiting and none running: the runner must return, not wait on no process.
    done = []
    asked = []

    def may_start():
        asked.append(1)
        return False

    finished = []
    thread = threading.Thread(
        target=lambda: finished.append(
            runner.run_in_processes(
                [("a", {}), ("b", {})], 2, lambda *args: done.append(args), may_start=may_start
            )
        ),
        daemon=True,
    )
    thread.start()
    thread.join(timeout=30)
    assert finished == [None] and done == [] and asked == [1]
