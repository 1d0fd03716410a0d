"""The rollout seam: a `RolloutStrategy` turns (policy, task instances, pool) into a `RolloutBatch`.

The trainer asks its strategy for a batch each iteration and does not care how the batch was made.
Plain groups (`"groups"`, G independent episodes per task) are the baseline; experience replay
(episodes of a group replaced by stored successes) and branching (episodes forked from others
mid-episode) are other strategies behind the same interface. A strategy that keeps state across
iterations (a replay buffer) returns it from `state_dict()`, and the trainer checkpoints it, so a
resumed run equals an uninterrupted one.

Add one in its own file, and one import line in `stepgym/trainers/builtin.py`:

    from stepgym.trainers.strategy import ROLLOUTS, RolloutContext, RolloutStrategy

    @ROLLOUTS.register("mine")
    class MyRollouts(RolloutStrategy):
        def collect(self, ctx, specs):
            ...  # -> RolloutBatch
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stepgym.agents.hf import GenerationSettings, HFPolicy
from stepgym.envs.pool import EnvPool
from stepgym.trainers.registry import Registry
from stepgym.trainers.rollout import GroupSpec, RolloutBatch, SamplingPolicy, play_groups

if TYPE_CHECKING:
    from stepgym.trainers.config import TrainConfig


@dataclass
class RolloutContext:
    """What a strategy may use to play one iteration's groups."""

    pool: EnvPool
    policy: HFPolicy
    settings: GenerationSettings  # sampling settings, seeded for this iteration
    config: TrainConfig
    iteration: int
    engine: Any = None  # the trainer's RolloutEngine (None: the policy's own model samples)

    def sampler(self, first_call: int = 0) -> SamplingPolicy:
        """The policy with this iteration's sampling seed and explicit call numbers from `first_call`."""
        return SamplingPolicy(self.policy, self.settings, first_call, engine=self.engine)


class RolloutStrategy:
    """Base class of rollout strategies; subclasses implement `collect`."""

    def __init__(self, config: TrainConfig, **options: Any) -> None:
        if options:  # a subclass with options consumes them before calling this
            raise TypeError(f"rollout strategy {type(self).__name__} takes no options, got rollout_kwargs={options}")
        self.config = config

    def collect(self, ctx: RolloutContext, specs: Sequence[GroupSpec]) -> RolloutBatch:
        """A batch with one `RolloutGroup` per spec, each of `config.group_size` episodes."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state carried across iterations (checkpointed by the trainer)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, but the checkpoint holds {sorted(state)}")


ROLLOUTS: Registry[type[RolloutStrategy]] = Registry("rollout strategy")


@ROLLOUTS.register("groups")
class GroupRollouts(RolloutStrategy):
    """G independent episodes of each task instance, sampled from the current policy (GRPO's groups)."""

    def collect(self, ctx: RolloutContext, specs: Sequence[GroupSpec]) -> RolloutBatch:
        return play_groups(ctx.pool, ctx.sampler(), specs, self.config.group_size,
                           invalid_action_penalty=self.config.invalid_action_penalty,
                           no_effect_penalty=self.config.no_effect_penalty)
