import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# Seconds each test file took in the default run (docs/benchmarks.md, "The default test run").
# xdist hands out whole files (`--dist loadfile`) in collection order; started longest first,
# the two processes end close together (`scripts/test.sh` passes --no-loadscope-reorder, which
# would otherwise order files by their number of tests). Files not listed count as 30 s.
FILE_SECONDS = {
    "test_applications.py": 314,
    "test_search_children.py": 236,
    "test_export.py": 218,
    "test_nasnet.py": 162,
    "test_search_enas.py": 141,
    "test_search_oracle.py": 123,
    "test_search_controller.py": 120,
    "test_search_keras_tuner.py": 105,
    "test_jax_backend.py": 100,
    "test_search_distributed.py": 99,
    "test_nasnet_bc.py": 94,
    "test_distribute.py": 91,
    "test_saving.py": 73,
    "test_search_proxy_search.py": 71,
    "test_faults.py": 68,
    "test_search_proxies.py": 55,
    "test_search_compare.py": 52,
    "test_examples.py": 47,
    "test_search_evolution.py": 45,
    "test_search_report.py": 38,
    "test_search_reward.py": 34,
    "test_data.py": 17,
    "test_cli.py": 17,
    "test_ops.py": 12,
    "test_viz.py": 7,
}


def pytest_collection_modifyitems(items):
    # A stable sort: tests keep their order within a file.
    items.sort(key=lambda item: -FILE_SECONDS.get(item.path.name, 30))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
