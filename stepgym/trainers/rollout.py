"""Typed rollout data: step rows, episodes, groups and the batch the update trains on.

    RolloutBatch
      groups: RolloutGroup (one task instance: its `GroupSpec` and G episodes)
        episodes: EpisodeRollout (the recorded `Episode`, its return, its step rows)
          rows: StepRow (one agent step: exact model inputs, generated ids, log-probs, reward)

Everything is frozen: a stage (filtering, an estimator, replay) reads a batch and returns a new
one; nothing patches rows in place. Episode returns are computed once, when an `EpisodeRollout`
is built. `RolloutBatch.arrays` lays the rows out flat (episode-contiguous, in step order), the
layout the advantage functions in `advantages.py` expect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.hf import GenerationSettings, HFPolicy, PromptInputs
from stepgym.envs.pool import EnvPool
from stepgym.records import Episode, Step
from stepgym.runner import EpisodeJob, collect_episodes


@dataclass(frozen=True)
class StepRow:
    """One agent step as the trainer sees it."""

    prompt: PromptInputs = field(repr=False)  # the exact model inputs the action was sampled from
    response_ids: tuple[int, ...]  # generated tokens (ending with EOS when one was produced)
    sampled_logprobs: tuple[float, ...]  # log-prob of each token under the policy that sampled it
    reward: float  # env reward of the step, minus the invalid-action penalty
    state_key: str  # state the action was taken in
    step_index: int
    action_valid: bool


@dataclass(frozen=True)
class EpisodeRollout:
    """One episode: its record, its step rows and its return (sum of the rows' rewards)."""

    episode: Episode = field(repr=False)
    rows: tuple[StepRow, ...] = field(repr=False)
    episode_return: float = field(init=False)
    # reward of steps this rollout shares with another one that holds their rows (a branched
    # rollout under "hard" attribution, `trainers/branching.py`); 0 for a rollout with all its rows
    prefix_return: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "episode_return", float(self.prefix_return + sum(r.reward for r in self.rows)))

    @property
    def infra_failure(self) -> bool:
        """Whether the episode ended by an infrastructure failure (a dead worker or browser), not by
        the agent: `EnvPool` puts the failure into `info["error"]`, the collector into meta."""
        return "error" in self.episode.meta


@dataclass(frozen=True)
class GroupSpec:
    """One task instance to play G times: every episode of a group resets with the same seed and
    task, so the group compares actions, not luck of the draw."""

    group_id: str  # unique within a batch
    task_id: str | None  # None: the env chooses from the seed (e.g. procedural levels)
    seed: int  # reset seed shared by the group's episodes


@dataclass(frozen=True)
class RolloutGroup:
    """The G episodes played from one `GroupSpec`."""

    spec: GroupSpec
    episodes: tuple[EpisodeRollout, ...]

    @property
    def group_id(self) -> str:
        return self.spec.group_id

    @property
    def returns(self) -> np.ndarray:
        """[G] episode returns."""
        return np.array([e.episode_return for e in self.episodes], dtype=np.float64)

    @property
    def num_steps(self) -> int:
        return sum(len(e.rows) for e in self.episodes)


@dataclass(frozen=True)
class StepArrays:
    """Flat per-row and per-episode arrays of a batch (S rows, E episodes)."""

    rewards: np.ndarray  # [S] float64
    episode_index: np.ndarray  # [S] int64, episode of each row (contiguous, in step order)
    group_index: np.ndarray  # [S] int64, group of each row
    state_keys: list[str]  # [S]
    episode_returns: np.ndarray  # [E] float64
    episode_group: np.ndarray  # [E] int64, group of each episode


@dataclass(frozen=True)
class RolloutBatch:
    """The groups of one iteration, and what the strategy that made them wants logged."""

    groups: tuple[RolloutGroup, ...]
    stats: dict[str, float] = field(default_factory=dict, compare=False)

    @cached_property
    def episodes(self) -> tuple[EpisodeRollout, ...]:
        return tuple(e for g in self.groups for e in g.episodes)

    @cached_property
    def rows(self) -> tuple[StepRow, ...]:
        return tuple(r for e in self.episodes for r in e.rows)

    @property
    def num_steps(self) -> int:
        return len(self.rows)

    @cached_property
    def arrays(self) -> StepArrays:
        ep_group = [gi for gi, g in enumerate(self.groups) for _ in g.episodes]
        lengths = [len(e.rows) for e in self.episodes]
        return StepArrays(
            rewards=np.array([r.reward for r in self.rows], dtype=np.float64),
            episode_index=np.repeat(np.arange(len(lengths), dtype=np.int64), lengths),
            group_index=np.repeat(np.array(ep_group, dtype=np.int64), lengths),
            state_keys=[r.state_key for r in self.rows],
            episode_returns=np.array([e.episode_return for e in self.episodes], dtype=np.float64),
            episode_group=np.array(ep_group, dtype=np.int64),
        )

    def filter(self, keep: Callable[[RolloutGroup], bool]) -> RolloutBatch:
        """A new batch of the groups for which `keep(group)` is true (same order, same stats)."""
        return RolloutBatch(tuple(g for g in self.groups if keep(g)), dict(self.stats))


def is_informative(group: RolloutGroup) -> bool:
    """Whether a group's returns differ: a group of equal returns has zero GRPO advantage
    everywhere, so DAPO-style dynamic filtering drops it."""
    returns = group.returns
    return len(returns) > 1 and bool(np.ptp(returns) > 1e-9)


class SamplingPolicy(Policy):
    """An `HFPolicy` with fixed sampling settings and explicit call numbers.

    Explicit call numbers make a rollout a pure function of (weights, settings, first call), which
    is what lets a resumed run repeat an uninterrupted one exactly. Prompts are always encoded by
    the policy's processor; `engine` (a `trainers.engines.RolloutEngine`) samples them when given,
    else the policy's own model does.
    """

    def __init__(self, policy: HFPolicy, settings: GenerationSettings, first_call: int = 0, engine=None) -> None:
        self.policy, self.settings, self.call, self.engine = policy, settings, first_call, engine
        self.name = policy.name if engine is None else f"{policy.name}+{engine.name}"

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        prompts = self.policy.encode(inputs)
        if self.engine is None:
            actions = self.policy.generate(prompts, self.settings, call=self.call)
        else:
            actions = self.engine.generate(prompts, self.settings, self.call)
        self.call += 1
        return actions

    def metadata(self) -> dict[str, Any]:
        return {**self.policy.metadata(), "sampling": self.policy.sampling_meta(self.settings)}


def step_row(act: AgentAction, step: Step, invalid_action_penalty: float = 0.0) -> StepRow:
    """The trainer's row of one agent step: the action's exact inputs, ids and sampled log-probs,
    and the env's reward minus `invalid_action_penalty` when the env could not parse the action."""
    penalty = invalid_action_penalty if not step.action_valid else 0.0
    return StepRow(prompt=act.prompt_inputs, response_ids=tuple(act.token_ids),
                   sampled_logprobs=tuple(float(x) for x in act.logprobs), reward=step.reward - penalty,
                   state_key=step.state_key, step_index=step.index, action_valid=step.action_valid)


def play_groups(pool: EnvPool, policy: Policy, specs: Sequence[GroupSpec], group_size: int, *,
                invalid_action_penalty: float = 0.0, no_effect_penalty: float = 0.0) -> RolloutBatch:
    """Play `group_size` episodes of every spec; returns them as a batch with one row per step.

    `policy` must return token ids, log-probs and prompt inputs with each action (an `HFPolicy`
    or a `SamplingPolicy` around one). A row's reward is the env's minus `invalid_action_penalty`
    for an action the env could not parse, minus `no_effect_penalty` for a valid action after
    which the env was in the same state (`state_key` unchanged: a move into a wall, a click on
    nothing); an episode's last step is never judged so, its next state being unknown.
    """
    jobs = [EpisodeJob(seed=spec.seed, task_id=spec.task_id) for spec in specs for _ in range(group_size)]
    rows: dict[str, list[StepRow]] = {}

    def on_step(ep: Episode, step: Step, inp: AgentInput, act: AgentAction) -> None:
        if act.token_ids is None or act.logprobs is None or act.prompt_inputs is None:
            raise RuntimeError(f"policy {policy.name!r} returned no prompt inputs / token ids / log-probs; "
                               "RL needs all three (use an HFPolicy)")
        rows.setdefault(ep.episode_id, []).append(step_row(act, step, invalid_action_penalty))

    episodes = collect_episodes(pool, policy, jobs, on_step=on_step, save_images=False)
    groups = []
    for s, spec in enumerate(specs):
        eps = episodes[s * group_size: (s + 1) * group_size]
        groups.append(RolloutGroup(spec, tuple(
            EpisodeRollout(ep, _penalise_no_effect(rows.get(ep.episode_id, []), no_effect_penalty)) for ep in eps)))
    return RolloutBatch(tuple(groups))


def _penalise_no_effect(rows: list[StepRow], penalty: float) -> tuple[StepRow, ...]:
    if not penalty:
        return tuple(rows)
    out = [replace(r, reward=r.reward - penalty) if r.action_valid and r.state_key == nxt.state_key else r
           for r, nxt in zip(rows, rows[1:])]
    return tuple(out + rows[len(out):])
