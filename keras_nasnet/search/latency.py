"""The latency of an architecture: a child built as training builds it, exported and timed."""

from __future__ import annotations

import os
import tempfile

from ..export import measure_latency, to_tflite
from ..training import build_model


def architecture_latency_ms(
    architecture, input_shape, classes: int, settings, runs: int = 10, threads: int = 1
) -> float:
    """Returns the median float TF-Lite latency (ms) of `architecture` built as `training.train`
    builds it with `settings` (a `TrainingSettings`: N, F; no aux head) for `input_shape`
    images. The weights are untrained: latency does not depend on their values.

    Raises:
        ValueError: an invalid architecture or settings, or a model the converter refuses.
    """
    model = build_model(
        architecture,
        input_shape,
        classes,
        settings.replace(use_aux_head=False),
        1,
        name="latency_probe",
    )
    with tempfile.TemporaryDirectory(prefix="keras-nasnet-latency-") as tmp:
        path = to_tflite(model, os.path.join(tmp, "child.tflite"))
        return measure_latency(path, threads=threads, runs=runs).median_ms
