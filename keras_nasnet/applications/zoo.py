"""The registry of every model the zoo ships, with the paper's figures beside it.

`ZOO` holds the NASNet family (every entry a `NASNetModel` of N @ P settings; the command
line's and the NASNet tests' table), `MNASNET_ZOO` the MnasNet family (`MnasNetModel`s of
block lists); `get_zoo_model` finds a name in either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from . import mnasnet, nasnet_a, nasnet_bc


@dataclass(frozen=True)
class ZooModel:
    """One shipped model: how to build it, the settings its function builds it with, and what
    the paper reports for it."""

    name: str
    build: Callable
    settings: dict
    paper_params: Optional[float]
    paper_mult_adds: Optional[float]
    imagenet_weights: bool
    reconstructed: bool = False  # the cell is a reconstruction, not the published one
    family: str = "nasnet"

    @property
    def n_at_p(self) -> str:
        """Returns the paper's "N@P" name of a NASNet's size; "-" for another family (a
        MnasNet's size is its block list)."""
        if self.family != "nasnet":
            return "-"
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


# MnasNet (tensorflow/tpu's block lists): paper figures at 224x224 with 1000 classes. B1's
# 4.4M is the rounded size of the same network as torchvision's mnasnet1_0 (4,383,312
# parameters); no figures are published for d1 (a detection backbone).
MNASNET_ZOO = {
    model.name: model
    for model in (
        ZooModel(
            "mnasnet_a1", mnasnet.MnasNetA1, mnasnet.A1, 3.9e6, 312e6, False, family="mnasnet"
        ),
        ZooModel("mnasnet_b1", mnasnet.MnasNetB1, mnasnet.B1, 4.4e6, None, False, family="mnasnet"),
        ZooModel(
            "mnasnet_small",
            mnasnet.MnasNetSmall,
            mnasnet.SMALL,
            2.0e6,
            68e6,
            False,
            family="mnasnet",
        ),
        ZooModel("mnasnet_d1", mnasnet.MnasNetD1, mnasnet.D1, None, None, False, family="mnasnet"),
    )
}


def get_zoo_model(name: str) -> ZooModel:
    """Returns the registered model `name` (`ZOO` or `MNASNET_ZOO`).

    Raises:
        ValueError: an unknown name; the message lists the registered ones.
    """
    if name in ZOO:
        return ZOO[name]
    if name in MNASNET_ZOO:
        return MNASNET_ZOO[name]
    raise ValueError(f"Unknown model {name!r}. Available: {', '.join([*ZOO, *MNASNET_ZOO])}.")
