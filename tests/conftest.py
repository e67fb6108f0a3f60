import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Seconds each test file's tests took in the default run at dc4f485 (pytest --durations=0,
# summed per file; docs/benchmarks.md, "The default test run"). xdist hands out whole files
# (`--dist loadfile`) in collection order; started longest first, the two processes end close
# together (`scripts/test.sh` passes --no-loadscope-reorder, which would otherwise order files
# by their number of tests). Files not listed count as 30 s.
FILE_SECONDS = {
    "test_search_compare.py": 139,
    "test_search_enas.py": 98,
    "test_bench_rank_agreement.py": 94,
    "test_matched_children.py": 92,
    "test_applications.py": 91,
    "test_search_children.py": 70,
    "test_export.py": 67,
    "test_compare_networks.py": 65,
    "test_nasnet.py": 64,
    "test_command_faults.py": 53,
    "test_search_memory_restart.py": 95,
    "test_search_any_space.py": 53,
    "test_search_mnasnet_space.py": 44,
    "test_search_macro.py": 40,
    "test_jax_backend.py": 36,
    "test_search_multi_fidelity.py": 36,
    "test_search_distributed.py": 34,
    "test_training_epoch_examples.py": 33,
    "test_nasnet_bc.py": 32,
    "test_search_keras_tuner.py": 31,
    "test_distribute.py": 29,
    "test_multi_fidelity_cli.py": 29,
    "test_runner_workers.py": 29,
    "test_examples.py": 25,
    "test_cli_shared.py": 24,
    "test_mnasnet.py": 23,
    "test_search_oracle.py": 20,
    "test_saving.py": 19,
    "test_search_controller.py": 19,
    "test_search_network_space.py": 19,
    "test_search_proxies.py": 19,
    "test_search_evolution.py": 17,
    "test_narrowed_search.py": 16,
    "test_faults.py": 15,
    "test_design_spaces_study.py": 13,
    "test_search_proxy_search.py": 13,
    "test_search_resume_recipe.py": 13,
    "test_search_report.py": 10,
    "test_compare_package.py": 8,
    "test_data.py": 7,
    "test_anynet.py": 6,
    "test_search_crash_points.py": 6,
    "test_cli.py": 5,
    "test_mnasnet_int8.py": 5,
    "test_ops.py": 5,
    "test_auth.py": 4,
    "test_design_spaces_anynet.py": 3,
    "test_search_adam.py": 3,
    "test_search_reward.py": 2,
    "test_bench_compare_rows.py": 1,
    "test_bench_search_budget_fashion.py": 1,
    "test_cli_help.py": 1,
    "test_compare_front.py": 1,
    "test_compare_separation.py": 1,
    "test_compat.py": 1,
    "test_design_spaces.py": 1,
    "test_genotypes.py": 1,
    "test_html_pages.py": 1,
    "test_layers.py": 1,
    "test_main_job.py": 1,
    "test_main_job_plan.py": 1,
    "test_point_models.py": 1,
    "test_search_space.py": 1,
    "test_search_structure.py": 1,
    "test_validation.py": 1,
    "test_viz.py": 1,
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
