"""The rule reward for training on single recorded steps (UI-R1 / GUI-R1 style), from a protocol's verdict."""

from __future__ import annotations

from dataclasses import dataclass

from stepgym.rewards.offline.base import StepMatch


@dataclass(frozen=True)
class RuleRewardWeights:
    """Weights of the three parts; they sum to 1, so the reward lies in [0, 1]."""

    format: float = 1 / 3
    """The answer parses as one action of the env's grammar."""
    action_type: float = 1 / 3
    """Its type is the recorded one (the card's notion of type, e.g. swipe up = scroll down)."""
    argument: float = 1 / 3
    """The whole step is right by the card's rule: the point in the target box, the same text,
    direction, key, app, status."""

    def __post_init__(self) -> None:
        parts = (self.format, self.action_type, self.argument)
        if any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-9:
            raise ValueError(f"reward weights must be >= 0 and sum to 1, got {parts}")


def rule_reward(match: StepMatch | None, weights: RuleRewardWeights = RuleRewardWeights()) -> float:
    """format + type + argument, weighted; `match=None` means the answer did not parse (reward 0).

    >>> rule_reward(StepMatch("click", "click", type_match=True, correct=False))
    0.6666666666666666
    """
    if match is None:
        return 0.0
    return weights.format + weights.action_type * float(match.type_match) + weights.argument * float(match.correct)
