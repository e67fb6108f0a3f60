"""Trains a tiny model with MultiWorkerMirroredStrategy as one of the workers TF_CONFIG names.

    TF_CONFIG='{"cluster": {"worker": ["127.0.0.1:P0", "127.0.0.1:P1"]},
               "task": {"type": "worker", "index": I}}' \
        python tests/scripts/multi_worker_train.py DATA_DIR OUTPUT

DATA_DIR holds a small Fashion-MNIST (IDX files). Prints one JSON line: replicas, loss per
epoch and test accuracy.
"""

import json
import sys

from keras_nasnet.distribute import make_strategy

strategy = make_strategy("multi_worker")  # before TensorFlow initializes

from keras_nasnet.training import TrainingSettings, train  # noqa: E402

data_dir, output = sys.argv[1:3]
settings = TrainingSettings(num_blocks=1, filters=4, epochs=1, batch_size=32)
result = train(
    "nasnet_a", "fashion_mnist", settings, data_dir=data_dir, output=output, strategy=strategy
)
print(
    json.dumps(
        {
            "replicas": strategy.num_replicas_in_sync,
            "loss": result.history["loss"],
            "accuracy": result.test_accuracy,
        }
    )
)
