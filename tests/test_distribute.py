import json
import os
import subprocess
import sys

import pytest

from keras_nasnet import distribute

from .helpers import REPO_ROOT as ROOT
from .helpers import free_port, run_script_json, subprocess_env


def test_fit_under_mirrored_strategy_matches_one_device():
    # A subprocess: the CPU can only be split into 2 logical devices before TF initializes.
    result = run_script_json("mirrored_fit.py")
    assert (
        result["replicas"] == 2 and result["outputs"] == 2
    )  # the aux head trained under the strategy
    single, mirrored = result["losses"]
    # float64: equal to round-off (1e-15 measured); unsynchronized batch norm, the wiring error
    # this must catch, ends 1e-2 apart in loss and 0.13 in weights (docs/distributed.md).
    assert mirrored == pytest.approx(single, rel=1e-9)
    assert result["max_weight_diff"] < 1e-9
    assert result["drop_path_steps"] == [3]  # 3 global steps, not 3 per replica


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, None),
        ("2", 2),
        (3, 3),
        ("/gpu:0,/gpu:1", ["/gpu:0", "/gpu:1"]),
        ("GPU:0, CPU:0", ["/gpu:0", "/cpu:0"]),
    ],
)
def test_parse_devices(text, expected):
    assert distribute.parse_devices(text) == expected


@pytest.mark.parametrize("bad", ["0", 0, "", "banana:0", True, []])
def test_parse_devices_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="devices"):
        distribute.parse_devices(bad)


def test_make_strategy_rejects_bad_combinations():
    with pytest.raises(ValueError, match="Unknown strategy 'ring'"):
        distribute.make_strategy("ring")
    with pytest.raises(ValueError, match="default strategy uses one device"):
        distribute.make_strategy("default", 2)
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        distribute.make_strategy("multi_worker", "2")
    assert distribute.num_replicas(distribute.make_strategy("default")) == 1


def small_fashion_mnist(folder, train=256, test=64):
    """Writes the first `train`/`test` images of the bundled sample as a Fashion-MNIST folder."""
    from keras_nasnet.data import IDX_FILES, SAMPLE_DIR, read_idx, write_idx

    os.makedirs(folder, exist_ok=True)
    for split, count in (("train", train), ("test", test)):
        for name in IDX_FILES[split]:
            write_idx(os.path.join(folder, name), read_idx(os.path.join(SAMPLE_DIR, name))[:count])
    return str(folder)


@pytest.mark.skipif(
    not os.environ.get("KERAS_NASNET_TEST_MULTI_WORKER"),
    reason="opt-in (KERAS_NASNET_TEST_MULTI_WORKER=1): Keras 3.15.1's fit fails under "
    "MultiWorkerMirroredStrategy ('Attempt to convert a value (PerReplica...) to a Tensor', "
    "keras-team/keras#20585); see docs/distributed.md",
)
def test_final_training_with_two_multi_worker_processes(tmp_path):
    data_dir = small_fashion_mnist(tmp_path / "data")
    cluster = {"worker": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]}
    processes = []
    try:
        for index in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        os.path.join(ROOT, "tests", "scripts", "multi_worker_train.py"),
                        data_dir,
                        str(tmp_path / f"model{index}.keras"),
                    ],
                    env=subprocess_env(TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=tf_config),
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_out, err) in zip(processes, outputs):
        assert p.returncode == 0, err[-3000:]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert [r["replicas"] for r in results] == [2, 2]
    # Synchronous training: both workers hold the same model, so they see the same loss.
    assert results[0]["loss"] == pytest.approx(results[1]["loss"], rel=1e-5)
    assert os.path.exists(tmp_path / "model0.keras")
