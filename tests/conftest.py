import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Seconds each test file took in the default run (docs/benchmarks.md, "The default test run").
# xdist hands out whole files (`--dist loadfile`) in collection order; started longest first,
# the two processes end close together (`scripts/test.sh` passes --no-loadscope-reorder, which
# would otherwise order files by their number of tests). Files not listed count as 30 s.
FILE_SECONDS = {
    "test_applications.py": 295,
    "test_export.py": 228,
    "test_search_children.py": 220,
    "test_nasnet.py": 195,
    "test_search_enas.py": 195,
    "test_nasnet_bc.py": 144,
    "test_search_distributed.py": 130,
    "test_search_oracle.py": 104,
    "test_search_compare.py": 100,  # 69 before its --jobs tests, measured under load
    "test_faults.py": 82,
    "test_search_evolution.py": 80,
    "test_jax_backend.py": 79,
    "test_distribute.py": 75,
    "test_saving.py": 72,
    "test_search_keras_tuner.py": 71,
    "test_search_controller.py": 69,
    "test_search_proxies.py": 62,
    "test_search_proxy_search.py": 46,
    "test_search_multi_fidelity.py": 45,
    "test_narrowed_search.py": 40,
    "test_runner_workers.py": 30,
    "test_bench_rank_agreement.py": 50,
    "test_search_any_space.py": 230,
    "test_cli_shared.py": 70,
    "test_command_faults.py": 60,
    "test_training_epoch_examples.py": 70,
    "test_matched_children.py": 75,
    "test_search_resume_recipe.py": 30,
    "test_search_network_space.py": 60,
    "test_mnasnet.py": 50,
    "test_search_macro.py": 50,
    "test_search_mnasnet_space.py": 25,
    "test_design_spaces_study.py": 25,
    "test_examples.py": 39,
    "test_data.py": 29,
    "test_anynet.py": 20,
    "test_search_report.py": 25,
    "test_cli.py": 19,
    "test_search_reward.py": 13,
    "test_search_crash_points.py": 12,
    "test_ops.py": 10,
    "test_viz.py": 7,
    "test_design_spaces.py": 6,
    "test_point_models.py": 5,
    "test_design_spaces_anynet.py": 10,
    "test_bench_compare_rows.py": 3,
    "test_bench_search_budget_fashion.py": 4,
}


def pytest_collection_modifyitems(items):
    # A stable sort: tests keep their order within a file.
    items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, 30))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def reaped():
    """`reaped(process)` returns the process, and kills it at the test's end if it still runs
    (a failed assertion must not leave a search running in the background)."""
    processes = []

    def add(process):
        processes.append(process)
        return process

    yield add
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
