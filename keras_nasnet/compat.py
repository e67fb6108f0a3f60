"""Every private keras / keras-tuner API keras_nasnet relies on, in one place.

Tested with keras 3.15.1 and keras-tuner 1.4.8. Each entry below has no public equivalent in
those versions; where one exists the package uses it instead (`keras_tuner.engine.trial.Trial`
and `TrialStatus`, `model.layers`, `distributed.current_role()` for keras-tuner's
`is_chief_oracle`). `tests/test_compat.py` exercises every shim, so an upgrade that moves one
fails there first, and each shim raises `IncompatibleVersionError` naming the API it lost.

keras-tuner:
    synchronized          keras_tuner's `synchronized` never releases the oracle's lock when the
                          wrapped call raises (one failing `end_trial` on a distributed chief
                          would block every later request). Ours holds the same lock
                          (`keras_tuner.src.engine.oracle.LOCKS`/`THREADS`, so keras-tuner's
                          own synchronized methods called inside do not take it again) and
                          releases it in a `finally`.
    set_project_dir       `Oracle._set_project_dir`: how a Tuner points its oracle at
                          DIRECTORY/PROJECT; `search.run` drives an oracle without a Tuner.
    project_dir, trial_dir, oracle_file
                          `Oracle._project_dir`, `_get_trial_dir`, `_get_oracle_fname`: where
                          keras-tuner keeps a project, a trial and oracle.json.
    retry_queue           `Oracle._retry_queue`: ids of the trials waiting to run again; the NAS
                          oracle re-queues the trials of dead workers there and must see it to
                          tell when a search is over.
    TRIAL_WRITER          `Oracle._save_trial(trial)`: the hook every keras-tuner oracle calls to
                          write trial.json; `NASOracle` overrides it to write atomically.
    add_oracle_service    `keras_tuner.src.protos` and `distribute.oracle_chief.OracleServicer`:
                          keras-tuner's gRPC service, served by our own chief loop.
    init_hyperband_tuner  `Hyperband.__init__` only makes a `HyperbandOracle` and passes it to
                          `Tuner.__init__`; its `run_trial` and `_build_hypermodel` honour the
                          fidelity values (`tuner/epochs`, `tuner/initial_epoch`,
                          `tuner/trial_id`). `MultiFidelityTuner` is a Hyperband tuner with our
                          own oracle: it skips to `Tuner.__init__`.
keras:
    flatten_layers        `Layer._flatten_layers`: every layer of a model, nested ones included.
    model_nodes           `Functional._nodes_by_depth`: the graph nodes of this model only (a
                          layer shared with another model also has nodes there).
    inbound_nodes         `Operation._inbound_nodes`: the calls of a layer.
    producer              `KerasTensor._keras_history.operation`: the layer that made a tensor.
    save_weights_to_hdf5_group
                          `keras.src.legacy.saving.legacy_h5_format`: the legacy h5 weights
                          layout (tests write files in the official NASNet weights' format).
    correct_pad           `keras.src.applications.imagenet_utils.correct_pad` (a test compares
                          our padding with it).
    build_training_state  `Trainer._symbolic_build`: creates the optimizer, loss and metric
                          variables from a symbolic batch before `fit`. Keras' TensorFlow
                          trainer only does this under a distribution strategy; otherwise the
                          variables appear inside the first trace of the train step, which
                          TensorFlow then traces a second time (docs/benchmarks.md, "First
                          step of a fit").
"""

from __future__ import annotations

import functools
import threading

TESTED_VERSIONS = {"keras": "3.15.1", "keras_tuner": "1.4.8"}
TRIAL_WRITER = "_save_trial"


class IncompatibleVersionError(RuntimeError):
    """An installed keras or keras-tuner lacks a private API keras_nasnet needs."""


def _installed(package: str) -> str:
    try:
        module = __import__(package)
        return getattr(module, "__version__", "?")
    except ImportError:
        return "not installed"


def _need(obj, attribute: str, api: str, package: str):
    """Returns `obj.attribute`; raises IncompatibleVersionError naming `api` when it is gone."""
    try:
        return getattr(obj, attribute)
    except AttributeError:
        raise IncompatibleVersionError(
            f"keras_nasnet needs the private {package} API {api}, which the installed {package} "
            f"{_installed(package)} lacks (tested with {TESTED_VERSIONS[package]})."
        ) from None


def _kt_module(name: str, api: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise IncompatibleVersionError(
            f"keras_nasnet needs the private keras_tuner API {api} (module {name}), which the "
            f"installed keras_tuner {_installed('keras_tuner')} lacks "
            f"(tested with {TESTED_VERSIONS['keras_tuner']})."
        ) from None


# -- keras-tuner ---------------------------------------------------------------------------------


def _oracle_locks():
    module = _kt_module("keras_tuner.src.engine.oracle", "oracle.LOCKS/THREADS")
    api = "keras_tuner.src.engine.oracle.LOCKS/THREADS"
    return _need(module, "LOCKS", api, "keras_tuner"), _need(module, "THREADS", api, "keras_tuner")


def synchronized(method):
    """Returns `method` (of an Oracle) run under the oracle's lock, released even when it raises.

    Re-entrant per thread like keras-tuner's decorator, and the same lock, so keras-tuner's
    synchronized methods called from inside do not wait for it again.

    Raises:
        IncompatibleVersionError: keras-tuner no longer keeps its locks where we look.
    """

    @functools.wraps(method)
    def wrapper(oracle, *args, **kwargs):
        locks, owners = _oracle_locks()
        me = threading.current_thread().name
        if owners[oracle] == me:
            return method(oracle, *args, **kwargs)
        with locks[oracle]:
            owners[oracle] = me
            try:
                return method(oracle, *args, **kwargs)
            finally:
                owners[oracle] = None

    return wrapper


def set_project_dir(oracle, directory: str, project_name: str) -> None:
    """Points `oracle` at `directory`/`project_name` as a Tuner would; returns nothing.

    Raises:
        IncompatibleVersionError: keras-tuner renamed `Oracle._set_project_dir`.
    """
    _need(oracle, "_set_project_dir", "Oracle._set_project_dir", "keras_tuner")(
        directory, project_name
    )


def project_dir(oracle) -> str:
    """Returns the oracle's project directory (created if missing).

    Raises:
        IncompatibleVersionError: keras-tuner renamed `Oracle._project_dir`.
    """
    return _need(oracle, "_project_dir", "Oracle._project_dir", "keras_tuner")


def trial_dir(oracle, trial_id: str) -> str:
    """Returns the directory of trial `trial_id` (created if missing).

    Raises:
        IncompatibleVersionError: keras-tuner renamed `Oracle._get_trial_dir`.
    """
    return _need(oracle, "_get_trial_dir", "Oracle._get_trial_dir", "keras_tuner")(trial_id)


def oracle_file(oracle) -> str:
    """Returns the path of the oracle's oracle.json.

    Raises:
        IncompatibleVersionError: keras-tuner renamed `Oracle._get_oracle_fname`.
    """
    return _need(oracle, "_get_oracle_fname", "Oracle._get_oracle_fname", "keras_tuner")()


def tuner_file(tuner) -> str:
    """Returns the path of the tuner's own state file (``<tuner_id>.json``: tuner0.json alone,
    chief.json or the worker's id in a distributed search).

    Raises:
        IncompatibleVersionError: keras-tuner renamed `BaseTuner._get_tuner_fname`.
    """
    return _need(tuner, "_get_tuner_fname", "BaseTuner._get_tuner_fname", "keras_tuner")()


def retry_queue(oracle) -> list:
    """Returns the oracle's own (mutable) list of trial ids waiting to be run again.

    Raises:
        IncompatibleVersionError: keras-tuner renamed `Oracle._retry_queue`.
    """
    return _need(oracle, "_retry_queue", "Oracle._retry_queue", "keras_tuner")


def init_hyperband_tuner(tuner, oracle, hypermodel=None, **kwargs) -> None:
    """Initializes `tuner`, an instance of a `keras_tuner.Hyperband` subclass, with `oracle`
    in place of the `HyperbandOracle` that `Hyperband.__init__` would make.

    Raises:
        IncompatibleVersionError: the installed keras-tuner's Hyperband no longer defines the
            methods that honour the fidelity values.
    """
    import keras_tuner

    for method in ("run_trial", "_build_hypermodel"):
        if method not in vars(keras_tuner.Hyperband):
            _need(object(), method, f"Hyperband.{method}", "keras_tuner")
    keras_tuner.Tuner.__init__(tuner, oracle=oracle, hypermodel=hypermodel, **kwargs)


def add_oracle_service(server, oracle) -> None:
    """Adds keras-tuner's Oracle gRPC service, answering from `oracle`, to `server`.

    Raises:
        IncompatibleVersionError: keras-tuner moved its protos or `OracleServicer`.
    """
    protos = _kt_module("keras_tuner.src.protos", "protos.get_service_grpc")
    chief = _kt_module("keras_tuner.src.distribute.oracle_chief", "OracleServicer")
    servicer = _need(chief, "OracleServicer", "oracle_chief.OracleServicer", "keras_tuner")
    service = _need(protos, "get_service_grpc", "protos.get_service_grpc", "keras_tuner")()
    service.add_OracleServicer_to_server(servicer(oracle), server)


# -- keras ---------------------------------------------------------------------------------------


def flatten_layers(model) -> list:
    """Returns every layer of `model`, nested layers included, `model` itself excluded.

    Raises:
        IncompatibleVersionError: keras renamed `Layer._flatten_layers`.
    """
    return list(
        _need(model, "_flatten_layers", "Layer._flatten_layers", "keras")(include_self=False)
    )


def model_nodes(model) -> list:
    """Returns the graph nodes of the functional `model` itself, inputs first.

    Raises:
        IncompatibleVersionError: keras renamed `Functional._nodes_by_depth`.
    """
    by_depth = _need(model, "_nodes_by_depth", "Functional._nodes_by_depth", "keras")
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def inbound_nodes(layer) -> list:
    """Returns the nodes of every call of `layer` (in any model).

    Raises:
        IncompatibleVersionError: keras renamed `Operation._inbound_nodes`.
    """
    return list(_need(layer, "_inbound_nodes", "Operation._inbound_nodes", "keras"))


def producer(tensor):
    """Returns the layer (operation) whose call made the symbolic `tensor`.

    Raises:
        IncompatibleVersionError: keras renamed `KerasTensor._keras_history`.
    """
    history = _need(tensor, "_keras_history", "KerasTensor._keras_history", "keras")
    return _need(history, "operation", "KerasTensor._keras_history.operation", "keras")


def save_weights_to_hdf5_group(group, model) -> None:
    """Writes `model`'s weights into the h5py `group` in Keras' legacy h5 layout.

    Raises:
        IncompatibleVersionError: keras moved `legacy_h5_format`.
    """
    try:
        from keras.src.legacy.saving import legacy_h5_format
    except ImportError:
        raise IncompatibleVersionError(
            "keras_nasnet needs the private keras API keras.src.legacy.saving.legacy_h5_format, "
            f"which the installed keras {_installed('keras')} lacks "
            f"(tested with {TESTED_VERSIONS['keras']})."
        ) from None
    api = "legacy_h5_format.save_weights_to_hdf5_group"
    _need(legacy_h5_format, "save_weights_to_hdf5_group", api, "keras")(group, model)


def correct_pad(inputs, kernel_size):
    """Returns keras.applications' ((top, bottom), (left, right)) padding for a strided conv.

    Raises:
        IncompatibleVersionError: keras moved `imagenet_utils.correct_pad`.
    """
    try:
        from keras.src.applications import imagenet_utils
    except ImportError:
        imagenet_utils = None
    api = "keras.src.applications.imagenet_utils.correct_pad"
    return _need(imagenet_utils, "correct_pad", api, "keras")(inputs, kernel_size)


def build_training_state(model, element_spec) -> None:
    """Creates `model`'s optimizer, compiled-loss and metric variables for batches described by
    `element_spec` (a tf.data element spec, or any structure of objects with `shape` and
    `dtype`), inside the model's distribution strategy, unless they already exist.

    Raises:
        IncompatibleVersionError: keras renamed `Trainer._symbolic_build`.
    """
    build = _need(model, "_symbolic_build", "Trainer._symbolic_build", "keras")
    with model.distribute_strategy.scope():
        build(data_batch=element_spec)
