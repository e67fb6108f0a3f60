import hashlib
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from keras_nasnet import data

from .helpers import subprocess_env

SAMPLE = "fashion_mnist_sample"
DEBIAN_FILES = [
    os.path.join(data.DEBIAN_FASHION_MNIST_DIR, n) for pair in data.IDX_FILES.values() for n in pair
]
TINY_TFDS = "keras_nasnet_test_tiny"


def first_batch(ds):
    images, labels = next(iter(ds))
    return images.numpy(), labels.numpy()


def unscale(images):
    return (images + 1.0) * 127.5


def write_fashion_files(folder, rng, sizes=(("train", 20), ("test", 5)), hw=(6, 5), gz=True):
    """Writes tiny random IDX files with the Fashion-MNIST names; returns {split: (images,
    labels)}.
    """
    os.makedirs(folder, exist_ok=True)
    written = {}
    for split, n in sizes:
        images = rng.integers(0, 256, (n, *hw), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        for name, array in zip(data.IDX_FILES[split], (images, labels)):
            data.write_idx(os.path.join(folder, name if gz else name[:-3]), array)
        written[split] = (images, labels)
    return written


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """Points every place Fashion-MNIST is looked for at empty folders; returns data_dir."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "debian"))
    os.makedirs(tmp_path / "keras_home")
    os.makedirs(tmp_path / "data_dir")
    return str(tmp_path / "data_dir")


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory):
    """A prepared TFDS image-classification dataset (30 train, 9 test 8x8 RGB images, 3 classes),
    built offline and not registered: it is found from its files in data_dir alone."""
    tfds = pytest.importorskip("tensorflow_datasets")
    data_dir = str(tmp_path_factory.mktemp("tfds"))

    with tfds.core.registered.skip_registration():

        class KerasNasnetTestTiny(tfds.core.GeneratorBasedBuilder):
            # A one-part module name makes TFDS look for the builder's code with `inspect`:
            # for a module inside a package (tests.test_data) it needs `importlib_resources`,
            # which tensorflow-datasets 4.9.10 does not install.
            __module__ = "keras_nasnet_test"
            VERSION = tfds.core.Version("1.0.0")

            def _info(self):
                return tfds.core.DatasetInfo(
                    builder=self,
                    features=tfds.features.FeaturesDict(
                        {
                            "image": tfds.features.Image(shape=(8, 8, 3)),
                            "label": tfds.features.ClassLabel(names=["a", "b", "c"]),
                        }
                    ),
                    supervised_keys=("image", "label"),
                )

            def _split_generators(self, dl_manager):
                return {
                    "train": self._generate_examples(30, 0),
                    "test": self._generate_examples(9, 1),
                }

            def _generate_examples(self, n, seed):
                rng = np.random.default_rng(seed)
                for i in range(n):
                    yield (
                        i,
                        {"image": rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "label": i % 3},
                    )

    KerasNasnetTestTiny(data_dir=data_dir).download_and_prepare(
        download_config=tfds.download.DownloadConfig(try_download_gcs=False)
    )
    return data_dir


# --- the bundled sample ------------------------------------------------------------------------


def test_sample_info():
    info = data.info(SAMPLE)
    assert info.image_shape == (28, 28, 1) and info.num_classes == 10
    assert info.split_sizes == {"train": 6000, "test": 1000}
    assert info.class_names[0] == "T-shirt/top" and len(info.class_names) == 10
    assert info.flip and info.source == data.SAMPLE_DIR
    assert set(data.DATASETS) == {"fashion_mnist", SAMPLE}


def test_sample_is_class_balanced_and_its_end_too():
    for split, per_class in (
        ("train", 600),
        ("test", 100),
        ("train[-600:]", 60),
        ("train[-10%:]", 60),
    ):
        images, labels = data.as_arrays(SAMPLE, split)
        assert images.dtype == np.uint8 and labels.dtype == np.int32
        assert images.shape == (10 * per_class, 28, 28, 1)
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10, split


def test_sample_readme_records_the_files_sha256():
    readme = open(os.path.join(data.SAMPLE_DIR, "README.md")).read()
    for name in (n for pair in data.IDX_FILES.values() for n in pair):
        digest = hashlib.sha256(open(os.path.join(data.SAMPLE_DIR, name), "rb").read()).hexdigest()
        assert f"`{name}`: `{digest}`" in readme
    assert "MIT" in readme and "1708.07747" in readme


def test_load_shapes_dtypes_and_range():
    ds = data.load(SAMPLE, "train", batch_size=32, cutout=8)
    assert ds.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    images, labels = first_batch(ds)
    assert images.shape == (32, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (32,) and labels.dtype == np.int32
    assert (
        images.min() >= -1.0 and images.max() <= 1.0 and images.min() < -0.9 and images.max() > 0.9
    )


def test_unaugmented_pipeline_is_the_raw_data_scaled_in_order():
    raw, raw_labels = data.as_arrays(SAMPLE, "test[:50]")
    images, labels = first_batch(data.load(SAMPLE, "test[:50]", batch_size=50))
    np.testing.assert_allclose(images, raw / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, raw_labels)


def test_defaults_augment_and_shuffle_only_the_whole_train_split():
    raw, raw_labels = data.as_arrays(SAMPLE, "train[:64]")
    images, labels = first_batch(data.load(SAMPLE, "train", batch_size=64))
    assert not np.array_equal(labels, raw_labels)  # shuffled
    # A held-out slice of train is evaluated as it is: neither shuffled nor augmented.
    images, labels = first_batch(data.load(SAMPLE, "train[:64]", batch_size=64))
    np.testing.assert_array_equal(labels, raw_labels)
    np.testing.assert_allclose(images, raw / 127.5 - 1.0, atol=1e-6)
    # augment=True alone also shuffles; shuffle=False keeps the order.
    _, labels = first_batch(data.load(SAMPLE, "train[:64]", batch_size=64, augment=True))
    assert not np.array_equal(labels, raw_labels)
    images, labels = first_batch(
        data.load(SAMPLE, "train[:64]", batch_size=64, augment=True, shuffle=False)
    )
    np.testing.assert_array_equal(labels, raw_labels)
    assert not np.allclose(images, raw / 127.5 - 1.0)


def test_augmentation_is_deterministic_per_seed_and_changes_every_epoch():
    def batch(seed):
        return first_batch(
            data.load(SAMPLE, "train[:256]", batch_size=256, augment=True, cutout=6, seed=seed)
        )

    a, b, other = batch(0), batch(0), batch(1)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], other[0])
    ds = data.load(SAMPLE, "train[:256]", batch_size=256, augment=True, shuffle=False, seed=0)
    first, second = first_batch(ds), first_batch(ds)
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], second[0])


def test_cutout_in_the_pipeline_zeroes_pixels():
    # Scaled pixels k / 127.5 - 1 are never exactly 0, so zeros come from cutout alone; a
    # square of 8 clipped at a corner still keeps 4 x 4 pixels.
    images, _ = first_batch(
        data.load(SAMPLE, "train[:128]", batch_size=128, augment=True, cutout=8)
    )
    assert ((images == 0).sum(axis=(1, 2, 3)) >= 16).all()
    images, _ = first_batch(data.load(SAMPLE, "train[:128]", batch_size=128, augment=True))
    assert (images == 0).sum() == 0


def test_image_size_resizes_and_keeps_one_channel():
    images, _ = first_batch(data.load(SAMPLE, "test[:8]", batch_size=8, image_size=32))
    assert images.shape == (8, 32, 32, 1)
    images, _ = first_batch(
        data.load(SAMPLE, "test[:8]", batch_size=8, image_size=(20, 24), augment=True)
    )
    assert images.shape == (8, 20, 24, 1) and images.min() >= -1.0 and images.max() <= 1.0


def test_batching_options():
    batches = [y.shape[0] for _, y in data.load(SAMPLE, "test[:100]", batch_size=64)]
    assert batches == [64, 36]
    batches = [
        y.shape[0] for _, y in data.load(SAMPLE, "test[:100]", batch_size=64, drop_remainder=True)
    ]
    assert batches == [64]
    repeated = data.load(SAMPLE, "test[:100]", batch_size=64, repeat=True, drop_remainder=True)
    assert len(list(repeated.take(5))) == 5


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(batch_size=0), ValueError),
        (dict(batch_size=2.0), TypeError),
        (dict(cutout=-1), ValueError),
        (dict(cutout=29), ValueError),
        (dict(seed=-1), ValueError),
        (dict(seed=True), TypeError),
        (dict(image_size=0), ValueError),
        (dict(image_size=(28,)), ValueError),
        (dict(image_size="28"), ValueError),
        (dict(augment="yes"), TypeError),
        (dict(shuffle=1), TypeError),
    ],
)
def test_load_rejects_bad_arguments(kwargs, error):
    argument = next(iter(kwargs))
    with pytest.raises(error, match=f"`{argument}`"):
        data.load(SAMPLE, "train", **kwargs)


# --- splits ------------------------------------------------------------------------------------


def test_slices_select_what_tfds_would():
    full, labels = data.as_arrays(SAMPLE, "train")
    for split, expected in (
        ("train[:5000]", full[:5000]),
        ("train[-5000:]", full[-5000:]),
        ("train[10%:]", full[600:]),
        ("train[:90%]", full[:5400]),
        ("train[-10%:-5%]", full[5400:5700]),
        ("train[100:-100]", full[100:-100]),
    ):
        images, _ = data.as_arrays(SAMPLE, split)
        np.testing.assert_array_equal(images, expected, err_msg=split)
        assert data.num_examples(SAMPLE, split) == len(expected)


def test_percent_rounding_is_tfds_closest():
    sizes = {"train": 30}
    # 4.5 rounds to 4 and 7.5 to 8, as Python's round (which TFDS uses) does.
    assert data.resolve_split("train[:15%]", sizes) == ("train", 0, 4)
    assert data.resolve_split("train[:25%]", sizes) == ("train", 0, 8)
    assert data.resolve_split("train[-15%:]", sizes) == ("train", 26, 30)
    assert data.resolve_split("train[-50%:]", sizes) == ("train", 15, 30)
    # -1% of 30 rounds to 0, so "train[:-1%]" is "train[:0]": empty, an error here (TFDS reads
    # nothing).
    with pytest.raises(ValueError, match="selects no example"):
        data.resolve_split("train[:-1%]", sizes)


@pytest.mark.parametrize(
    "split",
    [
        "validation",
        "train[]",
        "train[:]",
        "train[1.5:]",
        "train[10%:50]",
        "train[:7000]",
        "train[-7000:]",
        "train[5:5]",
        "train[10:5]",
        "train[::2]",
        "train[:150%]",
        "train+test",
        "Train",
    ],
)
def test_bad_split_is_a_value_error_listing_the_splits(split):
    with pytest.raises(ValueError) as raised:
        data.num_examples(SAMPLE, split)
    message = str(raised.value)
    assert split in message
    if split in ("validation", "Train"):
        assert "train, test" in message


def test_split_must_be_a_string():
    with pytest.raises(TypeError):
        data.load(SAMPLE, 0)


def test_holdout_splits_are_disjoint_parts_of_train():
    train_split, val_split = data.holdout_splits(SAMPLE, 0.1)
    assert (train_split, val_split) == ("train[:-600]", "train[-600:]")
    assert data.holdout_splits(SAMPLE, 1000) == ("train[:-1000]", "train[-1000:]")
    train, _ = data.as_arrays(SAMPLE, train_split)
    val, val_labels = data.as_arrays(SAMPLE, val_split)
    assert len(train) + len(val) == 6000
    seen = {image.tobytes() for image in train}
    assert not any(image.tobytes() in seen for image in val)
    test_images = {image.tobytes() for image in data.as_arrays(SAMPLE, "test")[0]}
    assert not any(image.tobytes() in test_images for image in val)
    assert np.bincount(val_labels).tolist() == [60] * 10


@pytest.mark.parametrize("size", [0, 0.0, 1.0, 6000, -5, 1.5])
def test_holdout_rejects_sizes_that_leave_a_side_empty(size):
    with pytest.raises(ValueError, match="validation_size"):
        data.holdout_splits(SAMPLE, size)


@pytest.mark.parametrize("size", [True, "0.1", None])
def test_holdout_rejects_non_numbers(size):
    with pytest.raises(TypeError, match="validation_size"):
        data.holdout_splits(SAMPLE, size)


# --- augmentation internals ----------------------------------------------------------------------


def test_pad_size_is_the_papers_four_for_small_images():
    assert [data.pad_size(s, s) for s in (8, 28, 32, 64, 224)] == [1, 4, 4, 8, 28]


def test_cutout_mask_zeroes_a_square_clipped_at_borders():
    mask = data.cutout_mask(12, 12, 4, 6, 6).numpy()[:, :, 0]
    expected = np.ones((12, 12), np.float32)
    expected[4:8, 4:8] = 0
    np.testing.assert_array_equal(mask, expected)
    corner = data.cutout_mask(12, 12, 4, 0, 11).numpy()[:, :, 0]
    expected = np.ones((12, 12), np.float32)
    expected[0:2, 9:12] = 0
    np.testing.assert_array_equal(corner, expected)


def test_cutout_zeroes_one_square_of_a_constant_image():
    image = tf.ones((12, 12, 2))
    full_squares = 0
    for seed in range(40):
        out = data.cutout(image, 4, tf.constant([seed, 7], tf.int64)).numpy()
        zero = out == 0
        np.testing.assert_array_equal(zero[:, :, 0], zero[:, :, 1])
        rows, cols = np.flatnonzero(zero[:, :, 0].any(1)), np.flatnonzero(zero[:, :, 0].any(0))
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert zero[:, :, 0].sum() == len(rows) * len(cols)  # one axis-aligned rectangle ...
        assert np.ptp(rows) == len(rows) - 1 and np.ptp(cols) == len(cols) - 1  # ... without gaps
        assert (out[~zero] == 1).all()
        full_squares += len(rows) == 4 and len(cols) == 4
        np.testing.assert_array_equal(
            out, data.cutout(image, 4, tf.constant([seed, 7], tf.int64)).numpy()
        )
    assert full_squares > 10


def crops(padded, h, w):
    return [
        padded[i : i + h, j : j + w]
        for i in range(padded.shape[0] - h + 1)
        for j in range(padded.shape[1] - w + 1)
    ]


def test_augment_image_only_flips_when_asked():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (6, 6, 1)).astype(np.float32)
    padded = np.pad(raw, ((1, 1), (1, 1), (0, 0)))
    plain, mirrored = crops(padded, 6, 6), crops(padded[:, ::-1], 6, 6)
    flips = 0
    for seed in range(30):
        key = tf.constant([seed, 0], tf.int64)
        for flip in (False, True):
            out = unscale(
                data.augment_image(tf.constant(raw), key, pad=1, flip=flip, cutout_size=0).numpy()
            )
            is_plain = any(np.allclose(out, c, atol=1e-3) for c in plain)
            is_mirrored = any(np.allclose(out, c, atol=1e-3) for c in mirrored)
            assert is_plain or is_mirrored
            if not flip:
                assert is_plain
            flips += flip and is_mirrored and not is_plain
    assert flips > 5


# --- Fashion-MNIST from IDX files ----------------------------------------------------------------


def test_idx_round_trip_and_corrupt_files(tmp_path, rng):
    array = rng.integers(0, 256, (3, 4, 5), dtype=np.uint8)
    for name in ("a.gz", "a"):
        data.write_idx(str(tmp_path / name), array)
        np.testing.assert_array_equal(data.read_idx(str(tmp_path / name)), array)
        assert data.read_idx_shape(str(tmp_path / name)) == (3, 4, 5)
    raw = (tmp_path / "a").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    (tmp_path / "magic").write_bytes(b"\x00\x00\x0d\x03" + raw[4:])
    (tmp_path / "notgz.gz").write_bytes(raw)
    for name in ("short", "magic", "notgz.gz"):
        with pytest.raises(ValueError, match=name):
            data.read_idx(str(tmp_path / name))
    data.write_idx(str(tmp_path / "b.gz"), array)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()  # no time stamp


def test_fashion_mnist_reader_on_synthetic_files_in_data_dir(nowhere, rng):
    written = write_fashion_files(os.path.join(nowhere, "fashion-mnist"), rng)
    info = data.info("fashion_mnist", data_dir=nowhere)
    assert info.source == os.path.join(nowhere, "fashion-mnist")
    assert info.split_sizes == {"train": 20, "test": 5} and info.image_shape == (6, 5, 1)
    for split, (images, labels) in written.items():
        got_images, got_labels = data.as_arrays("fashion_mnist", split, data_dir=nowhere)
        np.testing.assert_array_equal(got_images[..., 0], images)
        np.testing.assert_array_equal(got_labels, labels)
    got, _ = data.as_arrays("fashion_mnist", "train[-25%:]", data_dir=nowhere)
    np.testing.assert_array_equal(got[..., 0], written["train"][0][15:])
    images, labels = first_batch(
        data.load("fashion_mnist", "train", data_dir=nowhere, batch_size=20)
    )
    assert images.shape == (20, 6, 5, 1) and sorted(labels) == sorted(written["train"][1])


def test_fashion_mnist_found_gunzipped_and_in_the_keras_cache(nowhere, tmp_path, rng):
    written = write_fashion_files(
        str(tmp_path / "keras_home" / "datasets" / "fashion-mnist"), rng, gz=False
    )
    info = data.info("fashion_mnist")
    assert info.source == str(tmp_path / "keras_home" / "datasets" / "fashion-mnist")
    np.testing.assert_array_equal(data.as_arrays("fashion_mnist", "test")[1], written["test"][1])


def test_fashion_mnist_labels_out_of_range(nowhere, rng):
    write_fashion_files(nowhere, rng)
    data.write_idx(
        os.path.join(nowhere, data.IDX_FILES["test"][1]), np.array([0, 1, 2, 3, 10], np.uint8)
    )
    with pytest.raises(ValueError, match="label 10"):
        data.as_arrays("fashion_mnist", "test", data_dir=nowhere)


def test_missing_fashion_mnist_says_where_it_looked_and_how_to_get_it(nowhere, tmp_path):
    # A folder with only some of the files does not count.
    write_fashion_files(nowhere, np.random.default_rng(0), sizes=(("train", 3),))
    with pytest.raises(data.DatasetNotFoundError) as raised:
        data.info("fashion_mnist")
    assert isinstance(raised.value, FileNotFoundError)
    message = str(raised.value)
    keras_cache = str(tmp_path / "keras_home" / "datasets" / "fashion-mnist")
    defaults = (str(tmp_path / "debian"), keras_cache)
    for folder in defaults:
        assert f"  - {folder}\n" in message
    with pytest.raises(data.DatasetNotFoundError) as raised:
        data.info("fashion_mnist", data_dir=nowhere)
    message = str(raised.value)
    for folder in (nowhere, os.path.join(nowhere, "fashion-mnist")):
        assert f"  - {folder}\n" in message
    # An explicit data_dir is the only place looked.
    assert f"  - {tmp_path / 'debian'}\n" not in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "keras.datasets.fashion_mnist.load_data()" in message
    assert "t10k-labels-idx1-ubyte.gz" in message
    with pytest.raises(data.DatasetNotFoundError):
        data.load("fashion_mnist", "train", data_dir=nowhere)


def test_an_explicit_data_dir_is_never_replaced_by_another_copy(nowhere, tmp_path, rng):
    # The data sits in the Keras cache, but the caller named another folder: that is an error.
    write_fashion_files(str(tmp_path / "keras_home" / "datasets" / "fashion-mnist"), rng)
    assert data.info("fashion_mnist").source.endswith("fashion-mnist")
    explicit = f"`data_dir` '{nowhere}' \\(given explicitly"
    with pytest.raises(data.DatasetNotFoundError, match=explicit):
        data.info("fashion_mnist", data_dir=nowhere)
    for name in ("fashion_mnist", "fashion_mnist_sample", "cifar10"):
        with pytest.raises(data.DatasetNotFoundError, match="'/does/not/exist'.* does not exist"):
            data.load(name, "train", data_dir="/does/not/exist")
    afile = tmp_path / "afile"
    afile.write_bytes(b"")
    with pytest.raises(data.DatasetNotFoundError, match="is not a folder"):
        data.info("fashion_mnist", data_dir=str(afile))


def test_truncated_dataset_files_are_named(nowhere, rng):
    write_fashion_files(nowhere, rng)
    path = os.path.join(nowhere, data.IDX_FILES["train"][0])
    with open(path, "rb") as f:
        content = f.read()
    with open(path, "wb") as f:
        f.write(content[: len(content) // 2])
    with pytest.raises(ValueError, match=path):
        data.as_arrays("fashion_mnist", "train", data_dir=nowhere)


debian = pytest.mark.skipif(
    not all(map(os.path.isfile, DEBIAN_FILES)),
    reason="Debian's dataset-fashion-mnist is not installed",
)


@debian
def test_fashion_mnist_from_the_debian_package():
    info = data.info("fashion_mnist", data_dir=data.DEBIAN_FASHION_MNIST_DIR)
    assert info.source == data.DEBIAN_FASHION_MNIST_DIR
    assert info.split_sizes == {"train": 60000, "test": 10000} and info.image_shape == (28, 28, 1)
    images, labels = data.as_arrays("fashion_mnist", "test")
    assert images.shape == (10000, 28, 28, 1) and np.bincount(labels).tolist() == [1000] * 10


@debian
def test_sample_is_drawn_from_the_full_files_without_mixing_splits():
    for split in ("train", "test"):
        full = {image.tobytes() for image in data.as_arrays("fashion_mnist", split)[0]}
        sample = data.as_arrays(SAMPLE, split)[0]
        assert all(image.tobytes() in full for image in sample), split


# --- TFDS ----------------------------------------------------------------------------------------


def test_tfds_dataset_from_a_prepared_data_dir(tiny_tfds):
    info = data.info(TINY_TFDS, data_dir=tiny_tfds)
    assert (
        info.image_shape == (8, 8, 3)
        and info.num_classes == 3
        and info.class_names == ("a", "b", "c")
    )
    assert info.split_sizes == {"train": 30, "test": 9} and info.flip
    assert info.source.startswith(f"tfds:{TINY_TFDS} (") and tiny_tfds in info.source
    images, labels = data.as_arrays(TINY_TFDS, "train", data_dir=tiny_tfds)
    assert images.shape == (30, 8, 8, 3) and images.dtype == np.uint8 and labels.dtype == np.int32
    batch, batch_labels = first_batch(
        data.load(TINY_TFDS, "train", data_dir=tiny_tfds, batch_size=30, cutout=2)
    )
    assert batch.shape == (30, 8, 8, 3) and sorted(batch_labels) == sorted(labels)
    assert data.holdout_splits(TINY_TFDS, 0.1, data_dir=tiny_tfds) == ("train[:-3]", "train[-3:]")


def test_a_seeded_loaders_pipelines_decode_a_tfds_split_once(tiny_tfds, monkeypatch):
    # A search builds one pipeline per trial from its loader: each must read the decoded copy
    # the first one cached, not the files again (decoding is the slow part).
    tfds = pytest.importorskip("tensorflow_datasets")
    reads = []
    as_dataset = tfds.core.DatasetBuilder.as_dataset

    def counted(self, *args, **kwargs):
        def count(image):
            reads.append(1)
            return image

        return as_dataset(self, *args, **kwargs).map(
            lambda x, y: (tf.numpy_function(count, [x], x.dtype), y)
        )

    monkeypatch.setattr(tfds.core.DatasetBuilder, "as_dataset", counted)
    loader = data.seeded_loader(TINY_TFDS, "train", data_dir=tiny_tfds, batch_size=8)
    for seed in (1, 2, 2):
        labels = [label for _, batch in loader(seed) for label in batch.numpy()]
        assert sorted(labels) == [0] * 10 + [1] * 10 + [2] * 10
        assert len(reads) == 30


def test_our_slices_match_tfds_slices(tiny_tfds):
    full, _ = data.as_arrays(TINY_TFDS, "train", data_dir=tiny_tfds)
    for split in (
        "train[:15%]",
        "train[:25%]",
        "train[-15%:]",
        "train[5:-5]",
        "train[-10:-3]",
        "train[33%:66%]",
        "train[:-2%]",
        "train[10%:]",
    ):
        _, start, stop = data.resolve_split(split, {"train": 30})
        images, _ = data.as_arrays(TINY_TFDS, split, data_dir=tiny_tfds)
        np.testing.assert_array_equal(images, full[start:stop], err_msg=split)


def test_tfds_bad_split_lists_the_splits(tiny_tfds):
    for split in ("validation", "train[50:]"):
        with pytest.raises(ValueError, match=re.escape("this dataset has: train, test")):
            data.load(TINY_TFDS, split, data_dir=tiny_tfds)


def test_no_flip_datasets_are_never_flipped(tiny_tfds, monkeypatch):
    monkeypatch.setattr(data, "NO_FLIP_TFDS", data.NO_FLIP_TFDS | {TINY_TFDS})
    assert not data.info(TINY_TFDS, data_dir=tiny_tfds).flip
    raw, _ = data.as_arrays(TINY_TFDS, "train", data_dir=tiny_tfds)

    def mirrored_only(**kwargs):
        images, _ = first_batch(
            data.load(
                TINY_TFDS,
                "train",
                data_dir=tiny_tfds,
                batch_size=30,
                shuffle=False,
                augment=True,
                **kwargs,
            )
        )
        count = 0
        for image, original in zip(unscale(images), raw.astype(np.float32)):
            padded = np.pad(original, ((1, 1), (1, 1), (0, 0)))
            if not any(np.allclose(image, c, atol=1e-3) for c in crops(padded, 8, 8)):
                assert any(np.allclose(image, c, atol=1e-3) for c in crops(padded[:, ::-1], 8, 8))
                count += 1
        return count

    assert mirrored_only() == 0
    assert mirrored_only(flip=True) > 5
    assert {
        "mnist",
        "svhn_cropped",
        "emnist",
    } <= data.NO_FLIP_TFDS and "cifar10" not in data.NO_FLIP_TFDS


def test_unprepared_tfds_dataset_is_not_found_and_nothing_is_downloaded(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(data.DatasetNotFoundError) as raised:
        data.load("cifar10", "train", data_dir=str(tmp_path))
    message = str(raised.value)
    assert (
        str(tmp_path) in message
        and "tfds build cifar10" in message
        and "download_and_prepare" in message
    )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(data.DatasetNotFoundError, match="not one of keras_nasnet's datasets"):
        data.info("no_such_dataset_anywhere", data_dir=str(tmp_path))


def test_importing_the_package_does_not_import_tfds():
    code = (
        "import sys, keras_nasnet, keras_nasnet.data as d; "
        "d.as_arrays('fashion_mnist_sample', 'test[:5]'); "
        "assert 'tensorflow_datasets' not in sys.modules, 'tfds imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=subprocess_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
