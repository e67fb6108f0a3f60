"""The import paths of modules that moved when the search package took its roles' layout.

`keras_nasnet.search.space` and the other paths of earlier versions keep working: importing one
imports the module where it lives now and registers it under the old name too, so both names
are the same module object (a test that patches one patches the other), and no file is left
behind at the old place.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# Old module path -> the module that holds its contents now.
MOVED = {
    "keras_nasnet.search.auth": "keras_nasnet.search.distributed.auth",
    "keras_nasnet.search.child": "keras_nasnet.search.evaluators.child",
    "keras_nasnet.search.controller": "keras_nasnet.search.proposers.controller",
    "keras_nasnet.search.evaluation": "keras_nasnet.search.evaluators.evaluation",
    "keras_nasnet.search.evolution": "keras_nasnet.search.proposers.evolution",
    "keras_nasnet.search.files": "keras_nasnet.search.state",
    "keras_nasnet.search.integrity": "keras_nasnet.search.state",
    "keras_nasnet.search.latency": "keras_nasnet.search.evaluators.latency",
    "keras_nasnet.search.monitors": "keras_nasnet.search.reporting.monitors",
    "keras_nasnet.search.oracle": "keras_nasnet.search.oracles.nasnet",
    "keras_nasnet.search.policy": "keras_nasnet.search.proposers.policy",
    "keras_nasnet.search.proxies": "keras_nasnet.search.evaluators.proxies",
    "keras_nasnet.search.report": "keras_nasnet.search.reporting.report",
    "keras_nasnet.search.reward": "keras_nasnet.search.evaluators.reward",
    "keras_nasnet.search.shared_ops": "keras_nasnet.search.enas.shared_ops",
    "keras_nasnet.search.space": "keras_nasnet.search.spaces.nasnet_cells",
    "keras_nasnet.search.supernet": "keras_nasnet.search.enas.supernet",
    "keras_nasnet.search.compare": "keras_nasnet.compare.core",
    "keras_nasnet.search.compare_report": "keras_nasnet.compare.report",
    "keras_nasnet.search.parallel_runs": "keras_nasnet.compare.runner",
    "keras_nasnet.search.welch": "keras_nasnet.compare.stats",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old paths of `MOVED` (only those: every other name is left to Python)."""

    def __init__(self, moved: dict):
        self.moved = dict(moved)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.moved:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(self.moved[spec.name])
        # Python sets the old spec on the module it is given: keep the real one to restore.
        self._real_spec = module.__spec__
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = self._real_spec


def install() -> None:
    """Adds the finder to `sys.meta_path` once (after Python's own finders, so a real module of
    the same name would win)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder(MOVED))


# On import: `keras_nasnet.search` imports this module first, and any old path is below it.
install()
