"""Scores over episodes: success rate with a 95% Wilson interval, returns, lengths, invalid actions."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from stepgym.records import Episode


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (well behaved at 0 and 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Summary:
    """Aggregate results of a set of episodes."""

    episodes: int
    success_rate: float
    success_ci: tuple[float, float]
    mean_return: float
    mean_steps: float
    invalid_action_rate: float  # invalid actions / all actions
    truncated_rate: float

    def as_dict(self) -> dict[str, float | int | list[float]]:
        return {"episodes": self.episodes, "success_rate": self.success_rate,
                "success_ci": list(self.success_ci), "mean_return": self.mean_return,
                "mean_steps": self.mean_steps, "invalid_action_rate": self.invalid_action_rate,
                "truncated_rate": self.truncated_rate}


def summarize(episodes: Iterable[Episode]) -> Summary:
    eps = list(episodes)
    n = len(eps)
    wins = sum(e.success for e in eps)
    actions = sum(e.num_steps for e in eps)
    return Summary(
        episodes=n,
        success_rate=wins / n if n else 0.0,
        success_ci=wilson_interval(wins, n),
        mean_return=sum(e.total_reward for e in eps) / n if n else 0.0,
        mean_steps=actions / n if n else 0.0,
        invalid_action_rate=sum(e.invalid_actions for e in eps) / actions if actions else 0.0,
        truncated_rate=sum(e.truncated for e in eps) / n if n else 0.0,
    )


def per_task(episodes: Iterable[Episode]) -> dict[str, Summary]:
    """`summarize` for each task id."""
    groups: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        groups[e.task_id].append(e)
    return {t: summarize(g) for t, g in sorted(groups.items())}


@dataclass
class PairedDifference:
    """Success of B minus success of A over the same (task, seed) pairs, with a 95% interval."""

    pairs: int
    difference: float
    ci: tuple[float, float]
    a_only: int  # pairs A solved and B did not
    b_only: int  # pairs B solved and A did not


def paired_difference(a: Iterable[Episode], b: Iterable[Episode], z: float = 1.96) -> PairedDifference:
    """How much more often B succeeds than A on the same tasks and reset seeds.

    Episodes are matched by (task_id, seed); pairs on which both agree cancel, so the interval
    (normal approximation of the mean of per-pair differences) is much tighter than the one of two
    separate success rates when the two policies are correlated, e.g. before and after training.
    Raises ValueError when no pair matches.
    """
    index = {(e.task_id, e.seed): e.success for e in a}
    diffs = [float(e.success) - float(index[(e.task_id, e.seed)]) for e in b if (e.task_id, e.seed) in index]
    if not diffs:
        raise ValueError("no (task_id, seed) pair appears in both episode sets; paired_difference needs "
                         "the same tasks played with the same reset seeds")
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / max(n - 1, 1)
    half = z * math.sqrt(var / n)
    return PairedDifference(n, mean, (mean - half, mean + half), sum(d < 0 for d in diffs), sum(d > 0 for d in diffs))
