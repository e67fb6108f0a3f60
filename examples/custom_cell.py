"""Write a cell as data, build a network from it, train it briefly, save it.

    python examples/custom_cell.py --epochs 1

Uses random data so it runs anywhere; swap in your own (x, y) arrays.
"""

import argparse

import keras
import numpy as np

import keras_nasnet
from keras_nasnet import NASNET_A, Architecture, Block, Genotype


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--output", default="custom_cell.keras")
    args = parser.parse_args(argv)

    normal = Genotype(
        blocks=(
            Block((0, 1), ("sep_conv_3x3", "max_pool_3x3")),
            Block((2, 0), ("identity", "dil_conv_3x3")),
            Block((3, 1), ("conv_1x3_3x1", "avg_pool_3x3")),
        )
    )
    architecture = Architecture(normal=normal, reduction=NASNET_A.reduction)
    print(architecture.to_json(indent=1))

    x = np.random.default_rng(0).normal(size=(256, 32, 32, 3)).astype("float32")
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype("int32")
    batch_size = 32
    steps = args.epochs * len(x) // batch_size
    model = keras_nasnet.NASNet(
        architecture,
        num_blocks=1,
        penultimate_filters=64,
        stem="cifar",
        classes=2,
        input_shape=(32, 32, 3),
        skip_reduction=False,
        bn_momentum=0.9,
        drop_path_keep_prob=0.8,
        total_training_steps=steps,
        use_aux_head=True,
        seed=0,
    )
    print(f"params {model.count_params():,}, mult-adds {keras_nasnet.count_mult_adds(model):,}")
    model.compile(
        optimizer=keras.optimizers.SGD(
            keras.optimizers.schedules.CosineDecay(0.05, steps), momentum=0.9
        ),
        loss=["sparse_categorical_crossentropy"] * 2,
        loss_weights=[1.0, keras_nasnet.AUX_LOSS_WEIGHT],
        metrics=[["accuracy"], []],
    )
    model.fit(x, [y, y], batch_size=batch_size, epochs=args.epochs, verbose=2)
    inference = keras_nasnet.strip_aux_head(model)
    inference.save(args.output)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
