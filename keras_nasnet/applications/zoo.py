"""The registry of every model the zoo ships, with the paper's figures beside it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from . import nasnet_a, nasnet_bc


@dataclass(frozen=True)
class ZooModel:
    """One shipped model: how to build it, the settings its function builds it with, and what
    the paper reports for it."""

    name: str
    build: Callable
    settings: dict
    paper_params: float
    paper_mult_adds: Optional[float]
    imagenet_weights: bool
    reconstructed: bool = False  # the cell is a reconstruction, not the published one

    @property
    def n_at_p(self) -> str:
        """Returns the paper's "N@P" name of the model's size."""
        return f"{self.settings['num_blocks']}@{self.settings['penultimate_filters']}"

    @property
    def input_size(self) -> int:
        """Returns the side of the square images the model is built for."""
        return self.settings["default_size"]

    def make(self, **kwargs):
        """Returns the model built without weights (unless `weights=` is given)."""
        kwargs.setdefault("weights", None)
        return self.build(**kwargs)


ZOO = {
    model.name: model
    for model in (
        ZooModel("nasnet_a_mobile", nasnet_a.NASNetMobile, nasnet_a.MOBILE, 5.3e6, 564e6, True),
        ZooModel("nasnet_a_large", nasnet_a.NASNetLarge, nasnet_a.LARGE, 88.9e6, 23.8e9, True),
        ZooModel("nasnet_a_cifar", nasnet_a.NASNetCIFAR, nasnet_a.CIFAR, 3.3e6, None, False),
        ZooModel(
            "nasnet_b_mobile",
            nasnet_bc.NASNetBMobile,
            nasnet_bc.B_MOBILE,
            5.3e6,
            488e6,
            False,
            reconstructed=True,
        ),
        ZooModel(
            "nasnet_b_cifar",
            nasnet_bc.NASNetBCIFAR,
            nasnet_bc.B_CIFAR,
            2.6e6,
            None,
            False,
            reconstructed=True,
        ),
        ZooModel(
            "nasnet_c_mobile",
            nasnet_bc.NASNetCMobile,
            nasnet_bc.C_MOBILE,
            4.9e6,
            558e6,
            False,
            reconstructed=True,
        ),
        ZooModel(
            "nasnet_c_cifar",
            nasnet_bc.NASNetCCIFAR,
            nasnet_bc.C_CIFAR,
            3.1e6,
            None,
            False,
            reconstructed=True,
        ),
    )
}


def get_zoo_model(name: str) -> ZooModel:
    """Returns the registered model `name`; raises ValueError listing the names otherwise."""
    if name not in ZOO:
        raise ValueError(f"Unknown model {name!r}. Available: {', '.join(ZOO)}.")
    return ZOO[name]
