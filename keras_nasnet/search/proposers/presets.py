"""Settings presets of the proposers: the papers' and the measured small-budget ones."""

from __future__ import annotations

from typing import Optional

from ...validation import check_choice, check_int

ALGORITHMS = ("ppo", "reinforce", "evolution", "random")
PRESETS = ("budget", "paper")

# The NASNet paper (PPO, Adam 0.00035, entropy 0.00001, minibatches of 20 results, made for
# 20,000 children) and AmoebaNet (P = 100, S = 25) settings.
PAPER_SETTINGS = {
    "learning_rate": 0.00035,
    "entropy_weight": 0.00001,
    "baseline_decay": 0.95,
    "update_every": 20,
    "clip_epsilon": 0.2,
    "ppo_epochs": 4,
    "population_size": 100,
    "tournament_size": 25,
}


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def preset_settings(preset: str, max_trials: Optional[int], algorithm: str = "ppo") -> dict:
    """Returns the learner and evolution settings of `preset` for `algorithm` over `max_trials`.

    "paper" is `PAPER_SETTINGS`. "budget" was chosen by measurement on a synthetic reward for
    searches of 100-1,000 architectures (bench/search_budget.py, docs/benchmarks.md): a policy
    update every max_trials / 20 results (1 to 20, so a search of 6 trials updates after each
    one); Adam at 0.003 for PPO, whose 4 epochs per minibatch move the policy about 4 times as
    far per update as REINFORCE's single step, which gets 0.01 (at 400 samples PPO reached a
    last-100 mean of 0.77 at 0.003, 0.68 at 0.01 and 0.56 at 0.001; REINFORCE 0.50 at 0.003);
    a population of max_trials / 15 (10 to 100) with tournaments of half of it.

    Raises:
        ValueError: an unknown preset or a `max_trials` that is not a positive int or None.
    """
    check_choice(preset, "preset", PRESETS)
    max_trials = check_int(max_trials, "max_trials", minimum=1, allow_none=True)
    settings = dict(PAPER_SETTINGS)
    if preset == "paper":
        return settings
    budget = 1000 if max_trials is None else max_trials  # no budget: the top of the tuned range
    population = _clamp(budget // 15, 10, 100)
    settings.update(
        learning_rate=0.01 if algorithm == "reinforce" else 0.003,
        update_every=_clamp(budget // 20, 1, 20),
        population_size=population,
        tournament_size=max(2, population // 2),
    )
    return settings


def resolve_settings(preset: str, max_trials: Optional[int], algorithm: str, **given) -> dict:
    """Returns `preset_settings` with every setting in `given` that is not None in its place.

    A P given without an S shrinks the preset's S to fit it (the preset's S is half its P).

    Raises:
        ValueError: an unknown preset or a bad `max_trials`.
    """
    settings = preset_settings(preset, max_trials, algorithm)
    settings.update({k: v for k, v in given.items() if v is not None})
    if given.get("tournament_size") is None:
        settings["tournament_size"] = min(settings["tournament_size"], settings["population_size"])
    return settings


EVOLUTION_SETTINGS = ("population_size", "tournament_size")
LEARNER_SETTINGS = (
    "learning_rate",
    "entropy_weight",
    "baseline_decay",
    "update_every",
    "clip_epsilon",
    "ppo_epochs",
)
