"""The registry of every model the zoo ships, with the paper's figures beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .nasnet_a import NASNetCIFAR, NASNetLarge, NASNetMobile
from .nasnet_bc import NASNetBCIFAR, NASNetBMobile, NASNetCCIFAR, NASNetCMobile


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
    reconstructed: bool = False  # the cell is a reconstruction, not the published one

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
        ZooModel("nasnet_b_mobile", NASNetBMobile, "4@1536", 224, 5.3e6, 488e6, False, reconstructed=True),
        ZooModel("nasnet_b_cifar", NASNetBCIFAR, "4@1152", 32, 2.6e6, None, False, reconstructed=True),
        ZooModel("nasnet_c_mobile", NASNetCMobile, "3@960", 224, 4.9e6, 558e6, False, reconstructed=True),
        ZooModel("nasnet_c_cifar", NASNetCCIFAR, "4@640", 32, 3.1e6, None, False, reconstructed=True),
    )
}


def get_zoo_model(name: str) -> ZooModel:
    """Returns the registered model `name`; raises ValueError listing the names otherwise."""
    if name not in ZOO:
        raise ValueError(f"Unknown model {name!r}. Available: {', '.join(ZOO)}.")
    return ZOO[name]
