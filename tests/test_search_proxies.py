"""Zero-cost proxies: hand-computed values on tiny networks, determinism, and input checks."""

import keras
import numpy as np
import pytest

from keras_nasnet import training
from keras_nasnet.search import proxies
from keras_nasnet.search.space import SearchSpace
from keras_nasnet.training import TrainingSettings

TINY = TrainingSettings(num_blocks=1, filters=4)
SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(7)
    images = rng.normal(size=(8,) + SHAPE).astype(np.float32)
    labels = np.arange(8) % 4
    return images, labels


@pytest.fixture(scope="module")
def other_architecture():
    space = SearchSpace()
    return space.decode(space.sample_uniform(np.random.default_rng(3)))


def _linear_model(weights):
    """A bias-free dense stack with the given kernels: logits = x @ W1 @ W2 ..."""
    inputs = keras.Input((weights[0].shape[0],))
    x = inputs
    for i, w in enumerate(weights):
        layer = keras.layers.Dense(w.shape[1], use_bias=False, name=f"dense_{i}")
        x = layer(x)
        layer.set_weights([w])
    return keras.Model(inputs, x)


def test_get_proxy_returns_registered_and_refuses_unknown_names():
    assert proxies.get_proxy("naswot") is proxies.naswot
    for name, proxy in proxies.PROXIES.items():  # a ProxyScorer names its proxy by __name__
        assert proxy.__name__ == name and proxy.__doc__.startswith("Returns")
    with pytest.raises(ValueError, match="known proxies: naswot, synflow, grad_norm, snip, params"):
        proxies.get_proxy("jacov")


@pytest.mark.parametrize("name", sorted(proxies.PROXIES))
def test_each_proxy_is_deterministic_and_tells_architectures_apart(name, batch, other_architecture):
    images, labels = batch
    proxy = proxies.get_proxy(name)
    first = proxy("nasnet_a", images, labels, settings=TINY, seed=1)
    again = proxy("nasnet_a", images, labels, settings=TINY, seed=1)
    other = proxy(other_architecture, images, labels, settings=TINY, seed=1)
    assert np.isfinite(first)
    assert first == again
    assert other != first


@pytest.mark.parametrize("name", ["naswot", "synflow", "grad_norm", "snip"])
def test_seed_sets_the_initial_weights(name, batch):
    images, labels = batch
    proxy = proxies.get_proxy(name)
    assert proxy("nasnet_a", images, labels, settings=TINY, seed=1) != proxy(
        "nasnet_a", images, labels, settings=TINY, seed=2
    )


def test_naswot_matches_hand_computed_log_det():
    # Identity weights: the codes are the signs of the inputs, 101, 110 and 000. Every pair
    # differs in 2 of 3 units, so K = [[3, 1, 1], [1, 3, 1], [1, 1, 3]], det K = 20.
    inputs = keras.Input((3,))
    dense = keras.layers.Dense(3, use_bias=False)
    model = keras.Model(inputs, keras.layers.Activation("relu")(dense(inputs)))
    dense.set_weights([np.eye(3, dtype=np.float32)])
    images = np.array([[1, -1, 1], [1, 1, -1], [-1, -1, -1]], dtype=np.float32)
    score = proxies.naswot_score(model, images)
    assert score == pytest.approx(np.log(20.0))


def test_naswot_of_a_nasnet_equals_log_det_of_its_hamming_kernel(batch):
    images, _ = batch
    model = proxies.build_proxy_model("nasnet_a", SHAPE, 4, TINY, seed=5)
    relus = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu"
    ]
    outputs = keras.Model(model.inputs[0], [layer.output for layer in relus])(images, training=True)
    codes = np.concatenate([np.asarray(o).reshape(len(images), -1) > 0 for o in outputs], axis=1)
    units = codes.shape[1]
    kernel = np.array(
        [[units - np.count_nonzero(ci != cj) for cj in codes] for ci in codes], dtype=np.float64
    )
    expected = np.linalg.slogdet(kernel)[1]
    assert proxies.naswot_score(model, images) == pytest.approx(expected, rel=1e-9)


def test_synflow_of_a_linear_network_is_depth_times_the_absolute_path_sum():
    # R = 1^T |W1| |W2| is linear in each layer's weights, so each layer's sum of
    # theta * dR/dtheta is R itself (Euler), and two layers give 2R. Signs must not matter.
    w1 = np.array([[1.0, -2.0], [-0.5, 3.0]], dtype=np.float32)
    w2 = np.array([[-1.5], [2.0]], dtype=np.float32)
    path_sum = np.ones(2) @ np.abs(w1) @ np.abs(w2)
    assert proxies.synflow_score(_linear_model([w1, w2])) == pytest.approx(2 * path_sum)


def test_grad_norm_and_snip_match_the_cross_entropy_gradient_by_hand():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    w = rng.normal(size=(3, 4)).astype(np.float32)
    labels = np.array([0, 3, 1, 1, 2])
    logits = x @ w
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    gradient = x.T @ (probs - np.eye(4)[labels]) / len(x)
    model = _linear_model([w])
    assert proxies.grad_norm_score(model, x, labels) == (
        pytest.approx(np.linalg.norm(gradient), rel=1e-5)
    )
    assert proxies.snip_score(model, x, labels) == pytest.approx(
        np.abs(w * gradient).sum(), rel=1e-5
    )


def test_params_is_the_trained_childs_parameter_count(batch, other_architecture):
    images, labels = batch
    for architecture in ("nasnet_a", other_architecture):
        child = training.build_model(architecture, SHAPE, 4, TINY, steps_per_epoch=1)
        assert proxies.params(architecture, images, labels, settings=TINY) == child.count_params()


def test_synflow_builds_in_float64_and_restores_the_global_policy(batch):
    images, labels = batch
    before = keras.config.dtype_policy().name
    model = proxies.build_proxy_model("nasnet_a", SHAPE, 4, TINY, dtype="float64")
    assert model.weights[0].dtype == "float64"
    assert keras.config.dtype_policy().name == before
    # Deep products of absolute weights stay finite in float64 at child size.
    assert np.isfinite(proxies.synflow("nasnet_a", images, labels, seed=0))


@pytest.mark.parametrize(
    "images, labels, error, match",
    [
        (np.zeros((0,) + SHAPE), np.zeros(0, int), ValueError, "at least one image"),
        (np.zeros(SHAPE), np.zeros(8, int), ValueError, "4-D"),
        (np.zeros((4,) + SHAPE), np.zeros(3, int), ValueError, "one label per image"),
        (np.zeros((4,) + SHAPE), None, ValueError, "labels` are required"),
        (np.zeros((4,) + SHAPE), np.array([0, 1, 2, -1]), ValueError, ">= 0"),
        (np.zeros((4,) + SHAPE), np.array([0.0, 1, 2, 3]), TypeError, "integer class ids"),
        (np.full((4,) + SHAPE, np.nan), np.zeros(4, int), ValueError, "NaN"),
        (np.full((4,) + SHAPE, "a"), np.zeros(4, int), TypeError, "numeric"),
    ],
)
def test_bad_batches_are_refused_by_name(images, labels, error, match):
    with pytest.raises(error, match=match):
        proxies.grad_norm("nasnet_a", images, labels, settings=TINY)


def test_bad_classes_seed_and_settings_are_refused(batch):
    images, labels = batch
    with pytest.raises(ValueError, match="must be < classes"):
        proxies.snip("nasnet_a", images, labels, classes=3, settings=TINY)
    with pytest.raises(TypeError, match="`seed` must be an int"):
        proxies.naswot("nasnet_a", images, labels, settings=TINY, seed="1")
    with pytest.raises(TypeError, match="TrainingSettings"):
        proxies.params("nasnet_a", images, labels, settings={"filters": 4})
    with pytest.raises(ValueError, match="no ReLU layers"):
        proxies.naswot_score(_linear_model([np.eye(2, dtype=np.float32)]), np.ones((2, 2)))
