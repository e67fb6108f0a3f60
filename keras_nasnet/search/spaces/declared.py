"""What a space that declares its decisions on keras-tuner hyperparameters gets for free: a
fresh `HyperParameters` holding them and the `DecisionSpace` the proposers work over."""

from __future__ import annotations

from typing import Optional

from .decisions import DecisionSpace


class DeclaredSpace:
    """A base for spaces with a `declare(hp)` method (the macro and MnasNet spaces)."""

    _decisions: Optional[DecisionSpace] = None

    def declare(self, hp) -> dict:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def hyperparameters(self):
        """Returns a new `keras_tuner.HyperParameters` holding the space's decisions."""
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        self.declare(hp)
        return hp

    def decision_space(self) -> DecisionSpace:
        """Returns the space's `DecisionSpace` (what the proposers work over), made once."""
        if self._decisions is None:
            self._decisions = DecisionSpace(self.hyperparameters())
        return self._decisions
