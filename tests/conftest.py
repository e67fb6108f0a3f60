import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Seconds each test file's tests took in the default run at 2d06777 on an Intel Xeon (2 cores;
# pytest --junitxml, summed per file; less the tests slow-marked or cut since; docs/benchmarks.md,
# "The default test run"). xdist hands out whole files (`--dist loadfile`) in collection order;
# started longest first, the two processes end close together (`scripts/test.sh` passes
# --no-loadscope-reorder, which would otherwise order files by their number of tests). Files not
# listed count as 30 s.
FILE_SECONDS = {
    "test_search_enas.py": 151,
    "test_search_any_space.py": 121,
    "test_bench_rank_agreement.py": 107,
    "test_search_children.py": 107,
    "test_export.py": 105,
    "test_applications.py": 104,
    "test_search_memory_restart.py": 88,
    "test_search_compare.py": 86,
    "test_nasnet.py": 77,
    "test_matched_children.py": 62,
    "test_nasnet_bc.py": 48,
    "test_search_mnasnet_space.py": 47,
    "test_search_distributed.py": 43,
    "test_jax_backend.py": 42,
    "test_mnasnet.py": 42,
    "test_command_faults.py": 41,
    "test_cli_shared.py": 41,
    "test_search_proxies.py": 39,
    "test_search_macro.py": 39,
    "test_training_epoch_examples.py": 38,
    "test_compare_networks.py": 37,
    "test_examples.py": 36,
    "test_saving.py": 35,
    "test_search_keras_tuner.py": 35,
    "test_multi_fidelity_cli.py": 34,
    "test_search_report.py": 34,
    "test_distribute.py": 31,
    "test_search_multi_fidelity.py": 31,
    "test_runner_workers.py": 31,
    "test_search_controller.py": 31,
    "test_search_network_space.py": 28,
    "test_search_oracle.py": 28,
    "test_search_evolution.py": 28,
    "test_narrowed_search.py": 25,
    "test_search_proxy_search.py": 24,
    "test_search_resume_recipe.py": 21,
    "test_faults.py": 21,
    "test_design_spaces_study.py": 15,
    "test_data.py": 11,
    "test_cli.py": 10,
    "test_compare_package.py": 9,
    "test_anynet.py": 9,
    "test_search_crash_points.py": 8,
    "test_ops.py": 7,
    "test_mnasnet_int8.py": 7,
    "test_search_adam.py": 5,
    "test_design_spaces_anynet.py": 4,
    "test_search_reward.py": 4,
    "test_auth.py": 3,
    "test_viz.py": 2,
    "test_design_spaces.py": 2,
    "test_search_structure.py": 1,
    "test_compat.py": 1,
    "test_layers.py": 1,
    "test_search_space.py": 1,
    "test_cli_help.py": 1,
    "test_point_models.py": 1,
    "test_compare_front.py": 1,
    "test_main_job.py": 1,
    "test_compare_separation.py": 1,
    "test_validation.py": 1,
    "test_genotypes.py": 1,
    "test_main_job_plan.py": 1,
    "test_bench_search_budget_fashion.py": 1,
    "test_bench_compare_rows.py": 1,
    "test_html_pages.py": 1,
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
