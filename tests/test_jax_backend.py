"""The zoo on Keras' JAX backend: a tiny zoo model trains one step, saves and loads as a
NASNetModel there, and a file written on TensorFlow loads there with the same outputs."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_nasnet

from .helpers import subprocess_env

pytest.importorskip("jax")

TINY = dict(num_blocks=1, penultimate_filters=48, classes=3)
# Nearly all of this test's time is XLA compiling (eager ops one by one, then the train step):
# without LLVM's optimizations it takes about half as long (docs/benchmarks.md, "The default
# test run"). The outputs are compared to 1e-5 all the same.
FAST_XLA_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras
    import numpy as np
    import keras_nasnet
    from keras_nasnet.applications.zoo import ZOO

    assert keras.backend.backend() == "jax", keras.backend.backend()
    tf_file, expected_file, out_dir = sys.argv[1:4]
    report = {}

    # A file written on TensorFlow: same class, cell and outputs here.
    expected = np.load(expected_file)
    loaded = keras.saving.load_model(tf_file)
    report["tf_file_class"] = type(loaded).__name__
    report["tf_file_architecture"] = loaded.architecture.to_dict()
    report["tf_file_error"] = float(np.abs(np.asarray(loaded(expected["x"])) - expected["y"]).max())

    # A tiny zoo model trains one step on JAX (drop path and aux head on), then round-trips.
    model = ZOO["nasnet_c_cifar"].make(
        num_blocks=1, penultimate_filters=48, classes=3, use_aux_head=True,
        drop_path_keep_prob=0.8, total_training_steps=4, seed=0,
    )
    loss = "sparse_categorical_crossentropy"
    model.compile(optimizer="sgd", loss=[loss, loss], loss_weights=[1.0, 0.4])
    x = np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 3
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, [y, y], batch_size=8, epochs=1, verbose=0)
    report["loss"] = float(history.history["loss"][0])
    report["weights_changed"] = any(
        not np.array_equal(a, np.array(b)) for a, b in zip(before, model.get_weights())
    )
    inference = keras_nasnet.strip_aux_head(model)
    path = out_dir + "/jax.keras"
    inference.save(path)
    restored = keras.saving.load_model(path)
    report["jax_file_class"] = type(restored).__name__
    report["jax_file_architecture"] = restored.architecture.to_dict()
    error = np.abs(np.asarray(restored(x)) - np.asarray(inference(x))).max()
    report["jax_file_error"] = float(error)
    print("REPORT " + json.dumps(report))
    """
)


def test_zoo_model_trains_saves_and_loads_on_jax(tmp_path):
    written_on_tf = keras_nasnet.NASNetBCIFAR(**TINY, seed=1)
    tf_file = str(tmp_path / "tf.keras")
    written_on_tf.save(tf_file)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    np.savez(tmp_path / "expected.npz", x=x, y=keras.ops.convert_to_numpy(written_on_tf(x)))

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, tf_file, str(tmp_path / "expected.npz"), str(tmp_path)],
        env=subprocess_env(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", XLA_FLAGS=FAST_XLA_COMPILE),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=os.getcwd(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line[len("REPORT ") :])

    assert report["tf_file_class"] == "NASNetModel"
    assert report["tf_file_architecture"] == keras_nasnet.NASNET_B.to_dict()
    assert report["tf_file_error"] < 1e-5
    assert np.isfinite(report["loss"]) and report["weights_changed"]
    assert report["jax_file_class"] == "NASNetModel"
    assert report["jax_file_architecture"] == keras_nasnet.NASNET_C.to_dict()
    assert report["jax_file_error"] < 1e-5
