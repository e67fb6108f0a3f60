"""How a search evaluates a trial's architecture: the `evaluation` argument and the proxy scorer.

`evaluation` is "KIND" or "KIND:ARGUMENT"; `EVALUATION_KINDS` maps each kind to a parser of its
argument, so a new kind is one entry:

- ``train`` (the default): the child network is trained; the reward is its best validation
  accuracy (or the latency-aware reward built on it).
- ``proxy:NAME``: the reward is the zero-cost proxy NAME of `search.proxies` (naswot, synflow,
  grad_norm, snip, params) of the untrained child on one minibatch of the training split: about
  a second per architecture instead of minutes, so a search of hundreds of cells takes minutes.

`ProxyScorer` is what scores an architecture by a proxy for both uses of the proxies: as the
reward (``proxy:NAME``) and as the prefilter (`NASOracle(prefilter=K)`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Union

import keras_tuner
import numpy as np

from ...training import TrainingSettings
from ..proposers.ranks import rank_reward  # noqa: F401 (its import path of earlier versions)
from .proxies import CHILD_SETTINGS, PROXIES, get_proxy

TRAIN = "train"
PROXY = "proxy"
# Weight sharing is not a per-trial evaluation: `search.enas.search_shared` drives its own loop.
SHARED = "shared"
# The proxy whose ranking of cells agreed best with their trained accuracies (docs/benchmarks.md).
DEFAULT_PREFILTER_PROXY = "naswot"
# Images in the minibatch a proxy scores: half of NASWOT's 128, so that a score stays cheap.
PROXY_BATCH_SIZE = 64


@dataclass(frozen=True)
class Evaluation:
    """A parsed `evaluation`: `kind` ("train", "proxy") and its `argument` (a proxy's name)."""

    kind: str
    argument: Optional[str] = None

    def __str__(self) -> str:
        return self.kind if self.argument is None else f"{self.kind}:{self.argument}"

    def refuse_shared(self, where: str) -> None:
        """Raises ValueError if this is "shared": `where` evaluates trials one by one."""
        if self.kind == SHARED:
            raise ValueError(
                f"{where} evaluates trials one by one; weight sharing (evaluation 'shared') runs "
                f"its own loop: call keras_nasnet.search.enas.loop.search_shared(...) or "
                f"`keras-nasnet search --evaluation shared`."
            )

    @property
    def trains(self) -> bool:
        """Whether each trial trains its child (the reward is then an accuracy)."""
        return self.kind == TRAIN


def _no_argument(kind: str, argument: Optional[str]) -> Optional[str]:
    if argument is not None:
        raise ValueError(f"`evaluation` {kind!r} takes no argument; received {kind}:{argument}.")
    return None


def _proxy_argument(kind: str, argument: Optional[str]) -> str:
    if not argument or argument not in PROXIES:
        raise ValueError(
            f"`evaluation` {kind}:NAME needs a proxy name, one of {', '.join(PROXIES)}; "
            f"received {kind}:{argument or ''}."
        )
    return argument


# kind -> parser(kind, argument or None) -> the argument to keep (raises ValueError).
EVALUATION_KINDS: dict[str, Callable[[str, Optional[str]], Optional[str]]] = {
    TRAIN: _no_argument,
    PROXY: _proxy_argument,
    SHARED: _no_argument,
}


def evaluation_choices() -> str:
    """Returns the accepted `evaluation` values as text, e.g. "train, proxy:NAME"."""
    return ", ".join(f"{kind}:NAME" if kind == PROXY else kind for kind in EVALUATION_KINDS)


def parse_evaluation(value: Union[str, Evaluation]) -> Evaluation:
    """Returns the `Evaluation` that `value` ("train", "proxy:naswot", ...) names.

    Raises:
        TypeError: `value` is not a string.
        ValueError: an unknown kind or a bad argument; the message lists the accepted values.
    """
    if isinstance(value, Evaluation):
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"`evaluation` must be a string ({evaluation_choices()}); received {value!r}."
        )
    allowed = f"allowed: {evaluation_choices()} (proxies: {', '.join(PROXIES)})"
    kind, _, argument = value.partition(":")
    if kind not in EVALUATION_KINDS:
        raise ValueError(f"Unknown `evaluation` {value!r}; {allowed}.")
    try:
        return Evaluation(kind, EVALUATION_KINDS[kind](kind, argument if ":" in value else None))
    except ValueError as error:
        raise ValueError(f"{error} The {allowed}.") from None


class ProxyScorer:
    """Scores architectures by one zero-cost proxy on one fixed minibatch: `scorer(arch)`.

    Args:
        proxy: a name of `search.proxies.PROXIES`, or a function with their signature
            ``proxy(architecture, images, labels, *, classes, settings, seed) -> float``.
        images, labels: the minibatch (uint8 or float images [B, h, w, c], int labels [B]).
        classes: number of classes of the child network (None: the largest label + 1).
        settings: the child's N and F (`search.child.CHILD_SETTINGS` by default).
        seed: the child's initialization, so a score is the same on every call.
        filters: ``filters(architecture) -> F`` to score each architecture's child at its own
            F (a `NASNetHyperModel.filters`: children at matched parameters, so a prefilter
            ranks the children the search trains); None: `settings.filters`. An architecture
            it cannot size (`FailedTrialError`) scores -inf.

    Raises:
        ValueError: an unknown proxy name or an empty minibatch.
        TypeError: `proxy` is neither a name nor callable.
    """

    def __init__(
        self,
        proxy: Union[str, Callable],
        images,
        labels,
        classes: Optional[int] = None,
        settings: Optional[TrainingSettings] = None,
        seed: int = 0,
        filters: Optional[Callable] = None,
    ):
        if isinstance(proxy, str):
            self.name, self.function = proxy, get_proxy(proxy)
        elif callable(proxy):
            self.name, self.function = getattr(proxy, "__name__", "custom"), proxy
        else:
            raise TypeError(f"`proxy` must be a proxy name or callable; received {proxy!r}.")
        self.images, self.labels = np.asarray(images), np.asarray(labels)
        if len(self.images) == 0 or len(self.images) != len(self.labels):
            raise ValueError(
                f"The proxy minibatch needs as many labels as images, at least one; received "
                f"{len(self.images)} images and {len(self.labels)} labels."
            )
        self.classes = classes
        self.settings = settings
        self.seed = seed
        self.filters = filters

    def __call__(self, architecture) -> float:
        """Returns the proxy's score of `architecture` (-inf where it is not finite, e.g.
        NASWOT's singular kernel: the architecture then ranks last)."""
        kwargs = {"classes": self.classes, "seed": self.seed}
        if self.settings is not None:
            kwargs["settings"] = self.settings
        if self.filters is not None:
            try:
                width = self.filters(architecture)
            except keras_tuner.errors.FailedTrialError:
                return -math.inf
            kwargs["settings"] = (self.settings or CHILD_SETTINGS).replace(filters=width)
        score = float(self.function(architecture, self.images, self.labels, **kwargs))
        return score if math.isfinite(score) else -math.inf


def proxy_minibatch(
    dataset: str, split: str, size: int = PROXY_BATCH_SIZE, seed: int = 0, data_dir=None
) -> tuple[np.ndarray, np.ndarray]:
    """Returns `size` images and labels of `split` of `dataset`, drawn without replacement with
    `seed` (all of them when the split is smaller): the minibatch a search's proxy scores.

    Raises:
        keras_nasnet.data.DatasetNotFoundError: the dataset is not available.
    """
    from ... import data

    images, labels = data.as_arrays(dataset, split, data_dir)
    pick = np.random.default_rng([seed, 5]).permutation(len(images))[:size]
    return images[np.sort(pick)], labels[np.sort(pick)]
