"""The library's names and defaults that the command's flags and help show.

Copied, not imported: the modules that define them import TensorFlow, and `keras-nasnet
--help` must not. tests/test_cli_help.py checks every value here against the library's own.
"""

from __future__ import annotations

# keras_nasnet.applications.zoo.ZOO, then MNASNET_ZOO
ZOO_MODELS = (
    "nasnet_a_mobile",
    "nasnet_a_large",
    "nasnet_a_cifar",
    "nasnet_b_mobile",
    "nasnet_b_cifar",
    "nasnet_c_mobile",
    "nasnet_c_cifar",
    "mnasnet_a1",
    "mnasnet_b1",
    "mnasnet_small",
    "mnasnet_d1",
)

# The training fields the flags set, of keras_nasnet.training.TrainingSettings() ...
TRAINING_DEFAULTS = {
    "epochs": 10,
    "num_blocks": 2,
    "filters": 16,
    "batch_size": 64,
    "learning_rate": 0.05,
    "drop_path_keep_prob": 1.0,
    "cutout": 0,
    "epoch_examples": None,
}
# ... of keras_nasnet.search.evaluators.child.CHILD_SETTINGS, search.pipeline.FINAL_SETTINGS and
# compare's DEFAULT_RECIPE.
CHILD_DEFAULTS = {**TRAINING_DEFAULTS, "epochs": 5, "filters": 8}
FINAL_DEFAULTS = dict(TRAINING_DEFAULTS)
COMPARE_DEFAULTS = dict(TRAINING_DEFAULTS)
COMPARE_TOLERANCE = 0.05

# keras_nasnet.search.proposers.presets.ALGORITHMS and PRESETS
ALGORITHMS = ("ppo", "reinforce", "evolution", "random")
PRESETS = ("budget", "paper")
# keras_nasnet.search.evaluators.proxies.PROXIES (names) and search.evaluation's choices
PROXIES = ("naswot", "synflow", "grad_norm", "snip", "params")
DEFAULT_PREFILTER_PROXY = "naswot"
EVALUATION_CHOICES = "train, proxy:NAME, shared"

# keras_nasnet.export.QUANTIZATIONS, less None (float32)
QUANTIZATIONS = ("dynamic", "float16", "int8")

# keras_nasnet.search.enas.loop: search_shared's epochs and SharedSettings()
SHARED_EPOCHS = 10
SHARED_DEFAULTS = {
    "filters": 8,
    "num_cells": 1,
    "batch_size": 64,
    "controller_steps": 30,
    "derive_samples": 20,
    "controller_learning_rate": 0.0035,
}
