"""Regenerates the Fashion-MNIST sample bundled in keras_nasnet/datasets/fashion_mnist_sample.

Draws a fixed number of images per class (with a fixed seed) from the full Fashion-MNIST
files, orders them so that slices at the end of a split are class-balanced, and writes
them as gzipped IDX files (no time stamp, so the same draw gives the same bytes) with a
README that records the sources' sha256, the seed and the licence.

    python scripts/make_fashion_mnist_sample.py [--source DIR] [--out DIR] [--seed 0]

Raises SystemExit with a message if the source files are missing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nasnet.data import DEBIAN_FASHION_MNIST_DIR, IDX_FILES, SAMPLE_DIR, read_idx, write_idx  # noqa: E402

PER_CLASS = {"train": 600, "test": 100}

README = """# Fashion-MNIST sample

A class-balanced sample of Fashion-MNIST bundled with keras-nasnet so that examples, the
main job and the tests run without downloads: {train_total} training images ({train} per class)
and {test_total} test images ({test} per class), 28 x 28 grayscale, in the standard IDX
(`*-ubyte.gz`) format. Load it with `keras_nasnet.data.load("fashion_mnist_sample", split)`.

## Provenance

Drawn from the full Fashion-MNIST files in `{source}`, training images from the
training files and test images from the test files, never mixed:

{source_hashes}
Selection: `numpy.random.default_rng({seed})`; for each class in label order, the first
`n` indices of a random permutation of that class's indices; then, with the same generator,
round `r` of a split holds the `r`-th pick of every class in a random order. So every
aligned run of 10 examples holds one image of each class, and slices such as
`train[-600:]` or `train[-10%:]` are exactly class-balanced. Regenerate with

    python scripts/make_fashion_mnist_sample.py --source {source} --seed {seed}

which gives files with these sha256:

{sample_hashes}
## Licence and citation

Fashion-MNIST is Copyright (c) 2017 Zalando SE, https://tech.zalando.com, released under
the MIT License (https://github.com/zalandoresearch/fashion-mnist/blob/master/LICENSE):

> Permission is hereby granted, free of charge, to any person obtaining a copy of this
> software and associated documentation files (the "Software"), to deal in the Software
> without restriction, including without limitation the rights to use, copy, modify, merge,
> publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
> to whom the Software is furnished to do so, subject to the following conditions:
>
> The above copyright notice and this permission notice shall be included in all copies or
> substantial portions of the Software.
>
> THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
> INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
> PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
> FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
> OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
> DEALINGS IN THE SOFTWARE.

Han Xiao, Kashif Rasul, Roland Vollgraf. *Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms.* arXiv:1708.07747, 2017.
"""


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def select(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Returns `per_class` random indices of each class, stratified: round r holds the r-th
    pick of every class in a random order, so any 10 consecutive examples from a multiple of
    10 hold one of each class (train[-600:] has exactly 60 per class)."""
    picks = np.stack([rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in range(10)])
    return np.concatenate([rng.permutation(picks[:, r]) for r in range(per_class)])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", default=DEBIAN_FASHION_MNIST_DIR, help="folder with the full *-ubyte.gz files"
    )
    parser.add_argument("--out", default=SAMPLE_DIR, help="folder to write the sample to")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    sources = [os.path.join(args.source, name) for pair in IDX_FILES.values() for name in pair]
    missing = [path for path in sources if not os.path.isfile(path)]
    if missing:
        raise SystemExit(
            f"Missing source files: {', '.join(missing)} (apt-get install dataset-fashion-mnist)."
        )
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    outputs = []
    for split, (images_name, labels_name) in IDX_FILES.items():
        images = read_idx(os.path.join(args.source, images_name))
        labels = read_idx(os.path.join(args.source, labels_name))
        index = select(labels, PER_CLASS[split], rng)
        for name, array in ((images_name, images[index]), (labels_name, labels[index])):
            path = os.path.join(args.out, name)
            write_idx(path, np.ascontiguousarray(array))
            outputs.append(path)

    def hashes(paths):
        return "".join(f"- `{os.path.basename(p)}`: `{sha256(p)}`\n" for p in paths)

    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(
            README.format(
                train=PER_CLASS["train"],
                test=PER_CLASS["test"],
                train_total=10 * PER_CLASS["train"],
                test_total=10 * PER_CLASS["test"],
                source=args.source,
                seed=args.seed,
                source_hashes=hashes(sources),
                sample_hashes=hashes(outputs),
            )
        )
    for path in outputs:
        print(f"{path}  {os.path.getsize(path)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
