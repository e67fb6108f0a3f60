"""Datasets and tf.data pipelines for training NASNets and for the architecture search.

Three kinds of source, all behind the same functions (`info`, `load`, `seeded_loader`,
`as_arrays`, `holdout_splits`, `num_examples`):

- ``"fashion_mnist"``: the standard ``*-ubyte.gz`` files, looked for in `data_dir`, in the
  folder of Debian's ``dataset-fashion-mnist`` package and in the Keras cache;
- ``"fashion_mnist_sample"``: 6,000 train / 1,000 test Fashion-MNIST images shipped inside the
  package, so examples and tests run anywhere without downloads;
- any other name: a TensorFlow Datasets image-classification dataset, read offline from a
  prepared `data_dir` (this module never downloads).

Splits are "train", "test" or a slice of one with TFDS' syntax ("train[:5000]",
"train[-10%:]"). Images come out scaled to [-1, 1] like `preprocess_input`; augmentation
(pad-and-crop, horizontal flip, cutout) is keyed on `seed`, so a pipeline is reproducible.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import re
import struct
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
import tensorflow as tf

from .cache import keras_cache_dir
from .validation import check_bool, check_int, is_int

DATASETS: tuple[str, ...] = ("fashion_mnist", "fashion_mnist_sample")

# Where Debian's `dataset-fashion-mnist` installs the files (`dpkg -L dataset-fashion-mnist`).
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

SAMPLE_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "datasets", "fashion_mnist_sample"
)

FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# The standard file names (the same in the original release, Debian and the Keras cache).
IDX_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# TFDS datasets whose classes are digits or characters: a mirrored "2" or "R" is not a
# training example of its class, so these are never flipped.
NO_FLIP_TFDS: frozenset = frozenset(
    {
        "binarized_mnist",
        "binary_alpha_digits",
        "cmaterdb",
        "emnist",
        "kmnist",
        "mnist",
        "mnist_corrupted",
        "omniglot",
        "svhn_cropped",
    }
)

# A shuffle buffer holds at most this many bytes of images (or the whole split, if smaller):
# every in-memory dataset this module is meant for (CIFAR, Fashion-MNIST) is shuffled whole.
SHUFFLE_BUFFER_BYTES = 256 * 2**20

_SPLIT_RE = re.compile(r"^(?P<base>[\w-]+)(?:\[(?P<start>[^:\[\]]*):(?P<stop>[^:\[\]]*)\])?$")
_BOUND_RE = re.compile(r"^(?P<value>-?\d+(?:\.\d+)?)(?P<percent>%?)$")
_SPLIT_FORMS = (
    "'train', 'test', or a slice like 'train[:5000]', 'train[-5000:]', 'train[10%:]', 'train[:90%]'"
)

Size = Union[int, tuple[int, int]]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are nowhere this module looks; the message says where it looked and how to
    get them.
    """


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is and where it was found.

    Attributes:
        name: the name it was asked for.
        image_shape: (height, width, channels); TFDS datasets of mixed sizes have None there.
        num_classes: number of classes; labels are 0 .. num_classes - 1.
        class_names: the classes' names in label order, or None if the source has none.
        split_sizes: number of examples of each split.
        flip: whether a horizontally flipped image is still an image of its class.
        source: where the data was found (a folder, or "tfds:NAME (FOLDER)").
    """

    name: str
    image_shape: tuple
    num_classes: int
    class_names: Optional[tuple[str, ...]]
    split_sizes: dict = dataclasses.field(hash=False)
    flip: bool
    source: str


# ---------------------------------------------------------------------------------------------
# IDX (*-ubyte) files


def _open(path: str):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def _parse_idx_header(path: str, head: bytes) -> tuple[int, ...]:
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08 or head[3] == 0:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (header {head[:4].hex()}).")
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated: its header is incomplete.")
    return struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def read_idx_shape(path: str) -> tuple[int, ...]:
    """Returns the array shape stored in the IDX file at `path` (gzipped or not), reading only its
    header.

    Raises:
        ValueError: the file is not a readable IDX file of unsigned bytes.
    """
    try:
        with _open(path) as f:
            head = f.read(4)
            if len(head) == 4:
                head += f.read(4 * head[3])
    except (OSError, EOFError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from None
    return _parse_idx_header(path, head)


def read_idx(path: str) -> np.ndarray:
    """Returns the uint8 array stored in the IDX file at `path` (gzipped or not).

    Raises:
        ValueError: the file is not a readable IDX file of unsigned bytes, or its size does not
            match its header.
    """
    try:
        with _open(path) as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"Cannot read {path}: {error}") from None
    shape = _parse_idx_header(path, data)
    offset = 4 + 4 * len(shape)
    if len(data) - offset != math.prod(shape):
        raise ValueError(
            f"{path} holds {len(data) - offset} bytes of data but its header promises shape "
            f"{shape} ({math.prod(shape)} bytes): the file is truncated or corrupt."
        )
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes a uint8 `array` to `path` as an IDX file, gzipped if `path` ends in ".gz".

    The gzip header carries no time stamp, so equal arrays give byte-identical files.

    Raises:
        ValueError: `array` is not uint8 or has no dimensions.
    """
    array = np.asarray(array)
    if array.dtype != np.uint8 or array.ndim == 0:
        raise ValueError(
            f"write_idx needs a uint8 array with at least one dimension; received {array.dtype} "
            f"{array.shape}."
        )
    data = (
        bytes([0, 0, 0x08, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )
    if path.endswith(".gz"):
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f,
        ):
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


# ---------------------------------------------------------------------------------------------
# Splits


def _parse_bound(text: str, split: str) -> Optional[tuple[float, bool]]:
    if text == "":
        return None
    match = _BOUND_RE.match(text)
    if not match or (not match["percent"] and "." in match["value"]):
        raise ValueError(f"`split`={split!r}: bad slice bound {text!r}; allowed: {_SPLIT_FORMS}.")
    return float(match["value"]), bool(match["percent"])


def _to_index(bound: Optional[tuple[float, bool]], default: int, n: int, split: str) -> int:
    if bound is None:
        return default
    value, percent = bound
    # TFDS' "closest" rounding of percents, and its range check (after rounding).
    index = int(round(value * n / 100.0)) if percent else int(value)
    if abs(index) > n:
        raise ValueError(f"`split`={split!r} is out of range: the split has {n} examples.")
    return n + index if index < 0 else index


def _check_split_type(split) -> None:
    if not isinstance(split, str):
        raise TypeError(f"`split` must be a string like {_SPLIT_FORMS}; received {split!r}.")


def resolve_split(split: str, split_sizes: dict) -> tuple[str, int, int]:
    """Returns (split name, start, stop) of a split string, with TFDS' slicing semantics.

    Bounds are example counts (negative counts from the end) or percents of the split
    (rounded to the closest example); a bound beyond the split's size is an error.

    Raises:
        TypeError: `split` is not a string.
        ValueError: malformed, an unknown split name, out of range, or selects no example.
    """
    _check_split_type(split)
    match = _SPLIT_RE.match(split.replace(" ", ""))
    if not match:
        raise ValueError(
            f"`split`={split!r} is not a split or a slice of one; allowed: {_SPLIT_FORMS}."
        )
    base = match["base"]
    if base not in split_sizes:
        raise ValueError(
            f"Unknown split {base!r} in `split`={split!r}; this dataset has: "
            f"{', '.join(split_sizes)}."
        )
    n = split_sizes[base]
    start, stop = 0, n
    if match["start"] is not None:
        bounds = [_parse_bound(match["start"], split), _parse_bound(match["stop"], split)]
        given = [b for b in bounds if b is not None]
        if not given:
            raise ValueError(f"`split`={split!r} has an empty slice; allowed: {_SPLIT_FORMS}.")
        if len({percent for _, percent in given}) > 1:
            raise ValueError(
                f"`split`={split!r} mixes a percent and a count; use one unit for both bounds."
            )
        start, stop = _to_index(bounds[0], 0, n, split), _to_index(bounds[1], n, n, split)
    if stop <= start:
        raise ValueError(f"`split`={split!r} selects no example (the split has {n}).")
    return base, start, stop


# ---------------------------------------------------------------------------------------------
# Sources: where a dataset comes from. Each gives its DatasetInfo, the number of examples of a
# split, the split as uint8 arrays, and the split as a cached tf.data.Dataset of uint8 images.


class _IdxSource:
    """Fashion-MNIST-style IDX files in one folder (the full dataset or the bundled sample)."""

    def __init__(self, name: str, folder: str, files: dict):
        self.folder = folder
        self.files = files
        sizes, shape = {}, None
        for split, (images, labels) in files.items():
            image_shape = read_idx_shape(images)
            label_shape = read_idx_shape(labels)
            if len(image_shape) != 3 or len(label_shape) != 1 or image_shape[0] != label_shape[0]:
                raise ValueError(
                    f"{images} (shape {image_shape}) and {labels} (shape {label_shape}) are not "
                    "N images of H x W pixels and their N labels."
                )
            if shape not in (None, image_shape[1:]):
                raise ValueError(f"{images} holds {image_shape[1:]} images, other splits {shape}.")
            sizes[split], shape = image_shape[0], image_shape[1:]
        self.info = DatasetInfo(
            name,
            (*shape, 1),
            len(FASHION_MNIST_CLASSES),
            FASHION_MNIST_CLASSES,
            sizes,
            flip=True,
            source=folder,
        )

    def count(self, split: str) -> int:
        _, start, stop = resolve_split(split, self.info.split_sizes)
        return stop - start

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        base, start, stop = resolve_split(split, self.info.split_sizes)
        images_path, labels_path = self.files[base]
        images, labels = read_idx(images_path), read_idx(labels_path)
        if labels.size and labels.max() >= self.info.num_classes:
            raise ValueError(
                f"{labels_path} has label {labels.max()}; Fashion-MNIST labels are 0..9."
            )
        return images[start:stop, :, :, None], labels[start:stop].astype(np.int32)

    def dataset(self, split: str) -> tf.data.Dataset:
        # The arrays already sit in memory, so the dataset needs no cache().
        return tf.data.Dataset.from_tensor_slices(self.arrays(split))


def _idx_files_in(folder: str) -> Optional[dict]:
    files = {}
    for split, names in IDX_FILES.items():
        paths = []
        for name in names:
            # Also accept the files gunzipped, as people often leave them.
            candidates = [os.path.join(folder, name), os.path.join(folder, name[:-3])]
            found = [p for p in candidates if os.path.isfile(p)]
            if not found:
                return None
            paths.append(found[0])
        files[split] = tuple(paths)
    return files


def fashion_mnist_dirs(data_dir=None) -> list[str]:
    """Returns the folders searched for the Fashion-MNIST files, in order.

    With `data_dir`: `data_dir` and `data_dir`/fashion-mnist only (an explicit folder is never
    silently replaced by another copy of the data). Without: `DEBIAN_FASHION_MNIST_DIR`, then
    the Keras cache (`$KERAS_HOME` or ~/.keras, then datasets/fashion-mnist).
    """
    if data_dir is not None:
        data_dir = os.path.expanduser(os.fspath(data_dir))
        return [data_dir, os.path.join(data_dir, "fashion-mnist")]
    dirs = []
    # Keras caches datasets beside its models, under the same home folder.
    keras_home = os.path.dirname(keras_cache_dir())
    return dirs + [DEBIAN_FASHION_MNIST_DIR, os.path.join(keras_home, "datasets", "fashion-mnist")]


def _fashion_mnist(data_dir) -> _IdxSource:
    dirs = fashion_mnist_dirs(data_dir)
    for folder in dirs:
        files = _idx_files_in(folder)
        if files:
            return _IdxSource("fashion_mnist", folder, files)
    names = ", ".join(name for pair in IDX_FILES.values() for name in pair)
    where = "the default folders"
    if data_dir is not None:
        missing = "" if os.path.isdir(dirs[0]) else "; it does not exist"
        where = f"`data_dir` {dirs[0]!r} (given explicitly, so nowhere else{missing})"
    raise DatasetNotFoundError(
        f"Fashion-MNIST not found in {where}. Looked for {names} (or the same without .gz) in:\n"
        + "".join(f"  - {folder}\n" for folder in dirs)
        + "To get it: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu, installs them "
        f'in {DEBIAN_FASHION_MNIST_DIR}); or run `python -c "import keras; '
        'keras.datasets.fashion_mnist.load_data()"` on a connected machine and copy its '
        "~/.keras/datasets/fashion-mnist folder here, passing it as `data_dir`; or download the "
        "four files from https://github.com/zalandoresearch/fashion-mnist into `data_dir`. Without "
        "any files, the bundled 'fashion_mnist_sample' (6,000 train and 1,000 test images) works "
        "offline."
    )


def _sample() -> _IdxSource:
    files = _idx_files_in(SAMPLE_DIR)
    if not files:
        raise DatasetNotFoundError(
            f"The bundled Fashion-MNIST sample is missing from {SAMPLE_DIR}: this keras-nasnet "
            "install is incomplete. Reinstall the package, or regenerate the files with "
            "scripts/make_fashion_mnist_sample.py from a source checkout."
        )
    return _IdxSource("fashion_mnist_sample", SAMPLE_DIR, files)


class _TfdsSource:
    """A prepared TensorFlow Datasets image-classification dataset."""

    def __init__(self, name: str, builder):
        from tensorflow_datasets import features as tfds_features

        self.builder = builder
        keys = builder.info.supervised_keys
        feature_map = builder.info.features
        if not (
            isinstance(keys, tuple)
            and len(keys) == 2
            and all(isinstance(k, str) for k in keys)
            and isinstance(feature_map[keys[0]], tfds_features.Image)
            and isinstance(feature_map[keys[1]], tfds_features.ClassLabel)
        ):
            raise ValueError(
                f"TFDS dataset {name!r} is not an image-classification dataset: its supervised "
                f"keys are {keys!r}; an (image, class label) pair is needed."
            )
        image, label = feature_map[keys[0]], feature_map[keys[1]]
        if image.dtype != np.uint8:
            raise ValueError(
                f"TFDS dataset {name!r} has {np.dtype(image.dtype).name} images; uint8 is needed."
            )
        base_name = name.split("/")[0].split(":")[0]
        sizes = {split: info.num_examples for split, info in builder.info.splits.items()}
        self.info = DatasetInfo(
            name,
            tuple(image.shape),
            label.num_classes,
            tuple(label.names) or None,
            sizes,
            flip=base_name not in NO_FLIP_TFDS,
            source=f"tfds:{name} ({builder.data_dir})",
        )

    def count(self, split: str) -> int:
        _check_split_type(split)
        try:
            count = self.builder.info.splits[split].num_examples
        except (ValueError, KeyError, AssertionError, NotImplementedError) as error:
            raise ValueError(
                f"Bad `split`={split!r} for {self.info.name!r} ({error}); this dataset has: "
                f"{', '.join(self.info.split_sizes)}; allowed forms: {_SPLIT_FORMS}."
            ) from None
        if count == 0:
            raise ValueError(f"`split`={split!r} selects no example.")
        return count

    def dataset(self, split: str) -> tf.data.Dataset:
        self.count(split)
        ds = self.builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        # Decoding is the slow part: decode once, keep the uint8 images in memory.
        return ds.map(
            lambda x, y: (x, tf.cast(y, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE
        ).cache()

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        if None in self.info.image_shape:
            raise ValueError(
                f"{self.info.name!r} has images of different sizes {self.info.image_shape}; they "
                "do not stack into one array. Use load(..., image_size=...) instead."
            )
        images, labels = [], []
        for x, y in self.dataset(split).batch(1024).as_numpy_iterator():
            images.append(x)
            labels.append(y)
        return np.concatenate(images), np.concatenate(labels)


def _tfds(name: str, data_dir):
    import tensorflow_datasets as tfds

    if data_dir is not None:
        data_dir = os.path.expanduser(os.fspath(data_dir))
    get_it = (
        f"To get it, on a connected machine run `tfds build {name} --data_dir DIR` (or "
        f"`tfds.builder({name!r}, data_dir=DIR).download_and_prepare()`), copy DIR here and pass "
        "`data_dir=DIR`."
    )
    try:
        # try_gcs=False: never reach for the network, not even for metadata.
        builder = tfds.builder(name, data_dir=data_dir, try_gcs=False)
    except tfds.core.registered.DatasetNotFoundError as error:
        looked = (
            data_dir if data_dir is not None else f"{tfds.core.constants.DATA_DIR} (TFDS' default)"
        )
        raise DatasetNotFoundError(
            f"Dataset {name!r} not found: it is not one of keras_nasnet's datasets "
            f"({', '.join(DATASETS)}), TFDS has no builder of that name and nothing is prepared "
            f"under it in {looked} (TFDS: {str(error).splitlines()[0]}). TFDS' names: "
            f"`tfds.list_builders()`. {get_it}"
        ) from None
    if not builder.is_prepared():
        raise DatasetNotFoundError(
            f"TFDS dataset {name!r} is not prepared: looked in {builder.data_dir}. This module "
            f"never downloads. {get_it}"
        )
    return _TfdsSource(name, builder)


def _source(name: str, data_dir):
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a dataset name (a non-empty str); received {name!r}.")
    if name == "fashion_mnist":  # its not-found message also says how to get the files
        _check_data_dir(data_dir, allow_missing=True)
        return _fashion_mnist(data_dir)
    _check_data_dir(data_dir)
    if name == "fashion_mnist_sample":
        return _sample()
    return _tfds(name, data_dir)


def _check_data_dir(data_dir, allow_missing: bool = False) -> None:
    # A data_dir the caller names must exist: a typo must not quietly fall back to other data.
    if data_dir is None:
        return
    if not isinstance(data_dir, (str, os.PathLike)) or not os.fspath(data_dir):
        raise TypeError(f"`data_dir` must be a folder path or None; received {data_dir!r}.")
    path = os.path.expanduser(os.fspath(data_dir))
    if not os.path.exists(path):
        if allow_missing:
            return
        raise DatasetNotFoundError(f"`data_dir` {path!r} does not exist.")
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"`data_dir` {path!r} is not a folder.")


# ---------------------------------------------------------------------------------------------
# Public API


def info(name: str, data_dir=None) -> DatasetInfo:
    """Returns the `DatasetInfo` of dataset `name` (one of `DATASETS`, or a TFDS name).

    Raises:
        DatasetNotFoundError: the data is nowhere looked for, or a given `data_dir` does not
            exist or lacks it (an explicit `data_dir` is the only place looked); the message
            lists every place looked and how to get the data.
        TypeError: `name` is not a string.
        ValueError: a TFDS dataset that is not image classification, or a corrupt file.
    """
    return _source(name, data_dir).info


def num_examples(name: str, split: str, data_dir=None) -> int:
    """Returns the number of examples in `split` of dataset `name`.

    Raises:
        DatasetNotFoundError, TypeError: as `info`.
        ValueError: a malformed or unknown split, or one that selects no example.
    """
    return _source(name, data_dir).count(split)


def holdout_splits(
    name: str, validation_size: Union[float, int] = 0.1, data_dir=None
) -> tuple[str, str]:
    """Returns (train_split, validation_split): the end of "train" held out for validation.

    The test split is never used. `validation_size` is a fraction of "train" (0 < f < 1,
    rounded to the closest example) or a number of examples, e.g. ("train[:-600]",
    "train[-600:]"). The held-out part is the last examples of the stored order; every source
    here is stored shuffled (the Fashion-MNIST files and the bundled sample are, TFDS shuffles
    when it prepares a dataset), so it is close to class-balanced.

    Raises:
        DatasetNotFoundError: as `info`.
        TypeError: `validation_size` is not a number.
        ValueError: the dataset has no "train" split, or `validation_size` leaves no example on
            either side.
    """
    sizes = info(name, data_dir).split_sizes
    if "train" not in sizes:
        raise ValueError(
            f"Dataset {name!r} has no 'train' split to hold data out of; it has: "
            f"{', '.join(sizes)}."
        )
    n = sizes["train"]
    if is_int(validation_size):
        count = int(validation_size)
    elif isinstance(validation_size, (float, np.floating)):
        if not 0.0 < validation_size < 1.0:
            raise ValueError(
                f"`validation_size`={validation_size} must be a fraction in (0, 1) or an int count."
            )
        count = int(round(validation_size * n))
    else:
        raise TypeError(
            "`validation_size` must be a fraction or a number of examples; received "
            f"{validation_size!r}."
        )
    if not 0 < count < n:
        raise ValueError(
            f"`validation_size`={validation_size!r} holds out {count} of {n} training examples; "
            f"it must leave at least one on each side (1 .. {n - 1})."
        )
    return f"train[:-{count}]", f"train[-{count}:]"


def as_arrays(name: str, split: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [N, h, w, c], labels int32 [N]) of `split`, raw and unscaled.

    Raises:
        DatasetNotFoundError, TypeError: as `info`.
        ValueError: as `num_examples`, or a TFDS dataset whose images differ in size.
    """
    return _source(name, data_dir).arrays(split)


def pad_size(height: int, width: int) -> int:
    """Returns the padding of pad-and-crop for an image size: 4 pixels for 28 to 35 px (the
    paper's 4 for 32 x 32 CIFAR), growing in proportion (1/8 of the shorter side) beyond."""
    return max(1, (min(height, width) + 4) // 8)


def _check_image_size(image_size, image_shape) -> tuple[int, int]:
    if image_size is None:
        if None in image_shape[:2]:
            raise ValueError(
                f"The images are of different sizes {image_shape}; pass `image_size` (an int or "
                "(height, width))."
            )
        return tuple(image_shape[:2])
    size = (image_size, image_size) if is_int(image_size) else image_size
    pair = isinstance(size, (tuple, list)) and len(size) == 2
    if not pair or not all(is_int(s) and s > 0 for s in size):
        raise ValueError(
            "`image_size` must be a positive int or a (height, width) pair; received "
            f"{image_size!r}."
        )
    return int(size[0]), int(size[1])


def _scale(image: tf.Tensor) -> tf.Tensor:
    # The same as preprocess_input: pixels 0..255 to [-1, 1].
    return image / 127.5 - 1.0


def cutout_mask(height: int, width: int, size: int, center_y, center_x) -> tf.Tensor:
    """Returns a float32 [height, width, 1] mask: 0 on the `size` x `size` square centred at
    (center_y, center_x), clipped at the image's borders, 1 elsewhere."""
    top = tf.clip_by_value(center_y - size // 2, 0, height)
    left = tf.clip_by_value(center_x - size // 2, 0, width)
    bottom = tf.clip_by_value(center_y - size // 2 + size, 0, height)
    right = tf.clip_by_value(center_x - size // 2 + size, 0, width)
    rows = tf.range(height)
    cols = tf.range(width)
    inside_rows = (rows >= top) & (rows < bottom)
    inside_cols = (cols >= left) & (cols < right)
    inside = inside_rows[:, None] & inside_cols[None, :]
    return tf.cast(~inside, tf.float32)[:, :, None]


def cutout(image: tf.Tensor, size: int, seed) -> tf.Tensor:
    """Returns `image` [h, w, c] with a `size` x `size` square zeroed (DeVries & Taylor, 2017).

    The centre is uniform over the image, so the square may be clipped at a border; `seed`
    is a stateless seed (shape [2] int tensor), so the same seed zeroes the same square.
    """
    height, width = image.shape[0], image.shape[1]
    # One uniform pixel index gives both coordinates from a single stateless draw.
    index = tf.random.stateless_uniform([], seed, minval=0, maxval=height * width, dtype=tf.int32)
    center_y, center_x = index // width, index % width
    return image * cutout_mask(height, width, size, center_y, center_x)


def augment_image(image: tf.Tensor, seed, *, pad: int, flip: bool, cutout_size: int) -> tf.Tensor:
    """Returns one training view of a raw float image [h, w, c] (pixels 0..255), scaled to [-1, 1].

    Pad-and-crop (`pad` zero pixels on each side, then a random crop back to h x w), a random
    horizontal flip if `flip`, then cutout of `cutout_size` pixels if > 0, applied after
    scaling so the square is 0, the middle of [-1, 1] (DeVries & Taylor zero normalised
    images). Every random choice comes from the stateless `seed` (shape [2]).
    """
    crop_seed, flip_seed, cutout_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if pad:
        shape = image.shape
        image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
        image = tf.image.stateless_random_crop(image, shape, seed=crop_seed)
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    image = _scale(image)
    if cutout_size:
        image = cutout(image, cutout_size, cutout_seed)
    return image


def load(
    name: str,
    split: str,
    data_dir=None,
    *,
    batch_size: int = 64,
    augment: Optional[bool] = None,
    cutout: int = 0,
    shuffle: Optional[bool] = None,
    seed: int = 0,
    repeat: bool = False,
    image_size: Optional[Size] = None,
    drop_remainder: bool = False,
    flip: Optional[bool] = None,
) -> tf.data.Dataset:
    """Returns a tf.data pipeline of (images float32 [B, h, w, c] in [-1, 1], labels int32 [B]).

    Args:
        name: one of `DATASETS` or a TFDS image-classification dataset prepared in `data_dir`.
        split: "train", "test" or a slice ("train[:-5000]", "train[10%:]"; see `holdout_splits`).
        data_dir: a folder with the Fashion-MNIST files, or TFDS' data folder.
        batch_size: examples per batch.
        augment: pad-and-crop, flip and cutout. None means True for the whole "train" split
            only: any slice (a held-out validation part, say) and "test" are not augmented
            unless asked. Pass it explicitly for the training part of a holdout.
        cutout: side of the square cutout zeroes (0: none); part of augmentation, so ignored
            when `augment` is False.
        shuffle: None means the same as `augment`. The buffer covers the whole split when its
            images fit in `SHUFFLE_BUFFER_BYTES`; the order changes every epoch, reproducibly.
        seed: keys the shuffle and every augmentation; the same seed gives the same batches.
        repeat: repeat forever (for `steps_per_epoch`).
        image_size: int or (height, width) to resize to (bilinear) before augmentation.
        drop_remainder: drop a last, smaller batch.
        flip: override of `info(name).flip` (whether augmentation flips horizontally).

    Raises:
        DatasetNotFoundError: as `info`.
        TypeError: `name` or `split` is not a string, a flag is not a bool, an int argument
            is not an int.
        ValueError: a bad split (the message lists the splits), batch size, cutout, seed or
            image size.
    """
    return seeded_loader(
        name,
        split,
        data_dir,
        batch_size=batch_size,
        augment=augment,
        cutout=cutout,
        shuffle=shuffle,
        repeat=repeat,
        image_size=image_size,
        drop_remainder=drop_remainder,
        flip=flip,
    )(seed)


def seeded_loader(
    name: str,
    split: str,
    data_dir=None,
    *,
    batch_size: int = 64,
    augment: Optional[bool] = None,
    cutout: int = 0,
    shuffle: Optional[bool] = None,
    repeat: bool = False,
    image_size: Optional[Size] = None,
    drop_remainder: bool = False,
    flip: Optional[bool] = None,
) -> Callable[[int], tf.data.Dataset]:
    """Returns `seed -> load(name, split, data_dir, seed=seed, **options)`, reading the split
    once.

    One shuffled dataset reshuffles at every new iteration, so the batches a model's `fit`
    gets from it depend on how many fits iterated it before. A search trains each child on
    the pipeline of its trial's own seed instead: a trial gets the same data whether the
    process trained none or a hundred children before it, after a resume, or on another
    worker. Arguments and errors as `load`'s (the split and options are checked here).
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    cutout_size = check_int(cutout, "cutout", minimum=0)
    augment = check_bool(augment, "augment", allow_none=True)
    shuffle = check_bool(shuffle, "shuffle", allow_none=True)
    flip = check_bool(flip, "flip", allow_none=True)
    source = _source(name, data_dir)
    count = source.count(split)
    height, width = _check_image_size(image_size, source.info.image_shape)
    channels = source.info.image_shape[2]
    if augment is None:
        augment = isinstance(split, str) and split.replace(" ", "") == "train"
    if shuffle is None:
        shuffle = augment
    if flip is None:
        flip = source.info.flip
    if cutout_size > max(height, width):
        raise ValueError(f"`cutout`={cutout_size} is larger than the {height} x {width} images.")
    base = source.dataset(split)

    def to_float(image):
        image = tf.cast(image, tf.float32)
        if image_size is not None:
            image = tf.image.resize(image, (height, width), method="bilinear")
        return tf.ensure_shape(image, (height, width, channels))

    def pipeline(seed: int) -> tf.data.Dataset:
        seed = check_int(seed, "seed", minimum=0)
        ds = base
        if shuffle:
            buffer = min(
                count, max(1024, SHUFFLE_BUFFER_BYTES // (height * width * (channels or 3)))
            )
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        if augment:
            pad = pad_size(height, width)
            # One stateless key per element, drawn from a stream seeded by `seed` that changes
            # every epoch: the views differ between epochs yet the whole run is reproducible.
            keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            ds = tf.data.Dataset.zip(ds, keys).map(
                lambda element, key: (
                    augment_image(
                        to_float(element[0]),
                        tf.stack([tf.constant(seed, tf.int64), key]),
                        pad=pad,
                        flip=flip,
                        cutout_size=cutout_size,
                    ),
                    element[1],
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        else:
            ds = ds.map(
                lambda image, label: (_scale(to_float(image)), label),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
        return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

    return pipeline
