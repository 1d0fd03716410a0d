"""Advantage estimators over a `RolloutBatch`, registered by name (`TrainConfig.estimator`).

An estimator is `fn(batch, config) -> [S]` advantages, one per step row in `batch.rows` order.
The numerics live in the pure functions of `advantages.py`; these adapters only pick the arrays
and settings. Add one with `@ESTIMATORS.register("name")` in any module imported before training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from stepgym.trainers.advantages import gigpo_advantages, grpo_advantages, rloo_advantages
from stepgym.trainers.registry import Registry
from stepgym.trainers.rollout import RolloutBatch

if TYPE_CHECKING:
    from stepgym.trainers.config import TrainConfig

Estimator = Callable[[RolloutBatch, "TrainConfig"], np.ndarray]
ESTIMATORS: Registry[Estimator] = Registry("advantage estimator")


@ESTIMATORS.register("grpo")
def grpo(batch: RolloutBatch, cfg: TrainConfig) -> np.ndarray:
    """GRPO (Shao et al., 2024): each episode's return normalised within its group, copied to its steps."""
    a = batch.arrays
    return grpo_advantages(a.episode_returns, a.episode_group, normalize=cfg.normalize)[a.episode_index]


@ESTIMATORS.register("rloo")
def rloo(batch: RolloutBatch, cfg: TrainConfig) -> np.ndarray:
    """RLOO (Ahmadian et al., 2024): return minus the mean return of the group's other episodes."""
    a = batch.arrays
    return rloo_advantages(a.episode_returns, a.episode_group)[a.episode_index]


@ESTIMATORS.register("gigpo")
def gigpo(batch: RolloutBatch, cfg: TrainConfig) -> np.ndarray:
    """GiGPO (Feng et al., 2025): episode-level GRPO plus step groups of equal `state_key`."""
    a = batch.arrays
    return gigpo_advantages(a.rewards, a.episode_index, a.group_index, a.state_keys, gamma=cfg.gamma,
                            omega=cfg.omega, normalize=cfg.normalize, episode_weighting=cfg.episode_weighting)
