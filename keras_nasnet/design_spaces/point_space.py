"""What a design-space study needs of a space (`PointSpace`), apart from any one kind of point:
`sampling` implements it for NASNet cells, `anynet_study` for AnyNetX and RegNet."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Callable, Mapping, Optional

import numpy as np


class PointSpace(ABC):
    """A space a study samples: a name, seeded draws of points with their decision values, and
    what counts and trains a point.

    Attributes:
        name: the space's name in records, files and the report (letters, digits, "._-").
        categorical: numeric decisions to treat as categorical in the bootstrap (a choice of
            numbers, such as an input index, is narrowed to values, not to a range).
        train_target: the "module:function" a worker trains a point with (None: compare's
            runner default, `keras_nasnet.training:train`).
    """

    name: str
    categorical: tuple = ()
    train_target: Optional[str] = None

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> tuple:
        """Returns `(point, values)`: one point drawn with `rng` and its decision values,
        {decision name: scalar}."""

    @abstractmethod
    def config(self) -> dict:
        """Returns the space as JSON: a study refuses to resume with another one."""

    @abstractmethod
    def point_from_dict(self, data: Mapping):
        """Returns the point `point.to_dict()` wrote."""

    @abstractmethod
    def counter(self, input_shape, classes: int, recipe) -> Callable:
        """Returns count(point) -> (parameters, mult-adds) of the model `recipe` builds."""

    @abstractmethod
    def train_kwargs(self, point) -> dict:
        """Returns the point's keyword arguments of `train_target` (the recipe, dataset and seed
        are added by the study)."""


def _check_name(name) -> str:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(
            f"A space name must be letters, digits, '.', '_' or '-' (it names files); received "
            f"{name!r}."
        )
    return name
