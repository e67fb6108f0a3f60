"""The registry of every model the zoo ships, with the paper's figures beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .nasnet_a import NASNetCIFAR, NASNetLarge, NASNetMobile


@dataclass(frozen=True)
class ZooModel:
    """One shipped model: how to build it and what the paper reports for it."""

    name: str
    build: Callable
    n_at_p: str
    input_size: int
    paper_params: float
    paper_mult_adds: Optional[float]
    imagenet_weights: bool

    def make(self, **kwargs):
        """Returns the model built without weights (unless `weights=` is given)."""
        kwargs.setdefault("weights", None)
        return self.build(**kwargs)


ZOO = {
    model.name: model
    for model in (
        ZooModel("nasnet_a_mobile", NASNetMobile, "4@1056", 224, 5.3e6, 564e6, True),
        ZooModel("nasnet_a_large", NASNetLarge, "6@4032", 331, 88.9e6, 23.8e9, True),
        ZooModel("nasnet_a_cifar", NASNetCIFAR, "6@768", 32, 3.3e6, None, False),
    )
}


def get_zoo_model(name: str) -> ZooModel:
    """Returns the registered model `name`; raises ValueError listing the names otherwise."""
    if name not in ZOO:
        raise ValueError(f"Unknown model {name!r}. Available: {', '.join(ZOO)}.")
    return ZOO[name]
