"""The proposers by algorithm name, for oracles and commands that take the name as a setting."""

from __future__ import annotations

from .evolution import RegularizedEvolution
from .policy import ControllerProposer
from .presets import LEARNER_SETTINGS
from .random_sampling import RandomProposer


def _evolution(space, settings, seed, **_):
    return RegularizedEvolution(
        space, settings["population_size"], settings["tournament_size"], seed=seed
    )


def _controller(algorithm):
    def make(space, settings, seed, controller=None, rank_rewards=False):
        learner = {k: settings[k] for k in LEARNER_SETTINGS}
        return ControllerProposer(
            space, algorithm, seed=seed, rank_rewards=rank_rewards, **(controller or {}), **learner
        )

    return make


PROPOSERS = {
    "ppo": _controller("ppo"),
    "reinforce": _controller("reinforce"),
    "evolution": _evolution,
    "random": lambda space, settings, seed, **_: RandomProposer(space, seed),
}


def make_proposer(algorithm: str, space, settings: dict, seed: int, **options):
    """Returns the proposer of `algorithm` (a key of `PROPOSERS`) over `space`, with the
    resolved `settings` (see `presets.resolve_settings`); `options`: `controller` (the
    `Controller`'s units, temperature, tanh_constant) and `rank_rewards`.

    Raises:
        ValueError: an unknown algorithm.
    """
    if algorithm not in PROPOSERS:
        raise ValueError(f"Unknown algorithm {algorithm!r}. Allowed: {', '.join(PROPOSERS)}.")
    return PROPOSERS[algorithm](space, settings, seed, **options)
