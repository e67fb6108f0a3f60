"""The latency of a child: a model (or an architecture built as training builds it),
exported to LiteRT and timed."""

from __future__ import annotations

import os
import tempfile
from typing import Optional

import numpy as np

from ... import export
from ...training import build_model

LATENCY_QUANTIZATIONS = (None, "int8")


def architecture_latency_ms(
    architecture,
    input_shape,
    classes: int,
    settings,
    runs: int = 10,
    threads: int = 1,
    quantize: Optional[str] = None,
) -> float:
    """Returns the median TF-Lite latency (ms) of `architecture` built as `training.train`
    builds it with `settings` (a `TrainingSettings`: N, F; no aux head) for `input_shape`
    images, converted with `quantize` (None: float; "int8": full integer, calibrated on random
    images in [-1, 1], the training input range; latency does not depend on the scales). The
    weights are untrained: latency does not depend on their values.

    Raises:
        ValueError: an unknown `quantize`, an invalid architecture or settings, or a model the
            converter refuses.
    """
    if quantize not in LATENCY_QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of {LATENCY_QUANTIZATIONS}; received {quantize!r}."
        )
    export.check_latency_arguments(threads=threads, runs=runs)
    model = build_model(
        architecture,
        input_shape,
        classes,
        settings.replace(use_aux_head=False),
        1,
        name="latency_probe",
    )
    return model_latency_ms(model, runs=runs, threads=threads, quantize=quantize)


def model_latency_ms(
    model, runs: int = 10, threads: int = 1, quantize: Optional[str] = None
) -> float:
    """Returns the median TF-Lite latency (ms) of the built `model` (one fixed-size image
    input) converted with `quantize` (None: float; "int8": full integer, calibrated on 8 random
    images in [-1, 1]; latency does not depend on the scales or on the weights' values).

    Raises:
        ValueError: an unknown `quantize`, `runs` or `threads` out of range, or a model the
            converter refuses.
    """
    if quantize not in LATENCY_QUANTIZATIONS:
        raise ValueError(
            f"`quantize` must be one of {LATENCY_QUANTIZATIONS}; received {quantize!r}."
        )
    export.check_latency_arguments(threads=threads, runs=runs)
    calibration = None
    if quantize == "int8":
        shape = tuple(model.inputs[0].shape[1:])
        calibration = np.random.default_rng(0).uniform(-1, 1, (8, *shape)).astype("float32")
    with tempfile.TemporaryDirectory(prefix="keras-nasnet-latency-") as tmp:
        path = export.to_tflite(model, os.path.join(tmp, "child.tflite"), quantize, calibration)
        return export.measure_latency(path, threads=threads, runs=runs).median_ms
