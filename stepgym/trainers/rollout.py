"""Grouped rollouts: G episodes per sampled task, one training row per agent step.

A `RolloutBatch` keeps rows episode by episode, in step order, which is the layout the
advantage functions expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.hf import GenerationSettings, HFPolicy, PromptInputs
from stepgym.envs.pool import EnvPool
from stepgym.envs.tasks import Task
from stepgym.episodes.schema import Episode, Step
from stepgym.runner import EpisodeJob, collect_episodes


@dataclass
class StepRow:
    """One agent step as the trainer sees it."""

    prompt: PromptInputs  # the exact model inputs the action was sampled from
    response_ids: list[int]  # generated tokens (ending with EOS when produced)
    old_logprobs: list[float]  # log pi_old of each response token
    reward: float  # env reward of the step, minus the invalid-action penalty
    episode: int  # index of the episode in the batch
    group: str  # episode group (task instance) id
    state_key: str  # state the action was taken in
    step_index: int
    action_valid: bool


@dataclass
class RolloutBatch:
    """Rows of all steps (episode-contiguous, in step order) and the episodes they came from."""

    rows: list[StepRow] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # group id of each episode

    @property
    def num_steps(self) -> int:
        return len(self.rows)

    def arrays(self) -> dict[str, Any]:
        """Flat per-step arrays for the advantage functions."""
        return {
            "rewards": np.array([r.reward for r in self.rows], dtype=np.float64),
            "episode_ids": np.array([r.episode for r in self.rows], dtype=np.int64),
            "group_ids": [r.group for r in self.rows],
            "state_keys": [r.state_key for r in self.rows],
        }


class SamplingPolicy(Policy):
    """An `HFPolicy` with fixed sampling settings and explicit call numbers.

    Explicit call numbers make a rollout a pure function of (weights, settings, call_base), which
    is what lets a resumed run repeat an uninterrupted one exactly.
    """

    def __init__(self, policy: HFPolicy, settings: GenerationSettings, call_base: int) -> None:
        self.policy, self.settings, self.call = policy, settings, call_base
        self.name = policy.name

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        actions = self.policy.generate(self.policy.encode(inputs), self.settings, call=self.call)
        self.call += 1
        return actions

    def metadata(self) -> dict[str, Any]:
        return {**self.policy.metadata(), "sampling": self.policy.sampling_meta(self.settings)}


def collect_groups(
    pool: EnvPool,
    policy: HFPolicy,
    tasks: list[Task],
    group_size: int,
    settings: GenerationSettings,
    *,
    call_base: int,
    seed: int,
    invalid_action_penalty: float = 0.0,
) -> RolloutBatch:
    """Play `group_size` episodes of every task; returns them with one row per step."""
    sampler = SamplingPolicy(policy, settings, call_base)
    jobs, job_groups = [], []
    for t, task in enumerate(tasks):
        for g in range(group_size):
            jobs.append(EpisodeJob(seed=seed * 100_003 + t * 1009 + g, task_id=task.task_id))
            job_groups.append(f"{t}:{task.task_id}")
    rows_by_episode: dict[str, list[StepRow]] = {}

    def on_step(ep: Episode, step: Step, inp: AgentInput, act: AgentAction) -> None:
        if act.token_ids is None or act.logprobs is None or act.prompt_inputs is None:
            raise RuntimeError(f"policy {policy.name!r} returned no prompt inputs / token ids / log-probs; RL needs them")
        penalty = invalid_action_penalty if not step.action_valid else 0.0
        rows_by_episode.setdefault(ep.episode_id, []).append(StepRow(
            prompt=act.prompt_inputs, response_ids=list(act.token_ids),
            old_logprobs=list(act.logprobs), reward=step.reward - penalty, episode=-1, group="",
            state_key=step.state_key, step_index=step.index, action_valid=step.action_valid,
        ))

    episodes = collect_episodes(pool, sampler, jobs, on_step=on_step, save_images=False)
    batch = RolloutBatch(episodes=episodes, groups=job_groups)
    for e, ep in enumerate(episodes):
        for row in rows_by_episode.get(ep.episode_id, []):
            row.episode, row.group = e, job_groups[e]
            batch.rows.append(row)
    return batch


def filter_uninformative_groups(batch: RolloutBatch) -> tuple[RolloutBatch, int]:
    """Drop groups whose episodes all got the same return (their GRPO advantage is 0 everywhere).

    Returns the smaller batch and the number of groups dropped (DAPO-style dynamic filtering).
    """
    episode_return = np.zeros(len(batch.episodes))
    for row in batch.rows:  # returns as the trainer sees them (invalid-action penalty included)
        episode_return[row.episode] += row.reward
    returns: dict[str, set[float]] = {}
    for e, g in enumerate(batch.groups):
        returns.setdefault(g, set()).add(round(float(episode_return[e]), 9))
    keep_groups = {g for g, vals in returns.items() if len(vals) > 1}
    dropped = len(returns) - len(keep_groups)
    out = RolloutBatch()
    remap: dict[int, int] = {}
    for e, (ep, g) in enumerate(zip(batch.episodes, batch.groups)):
        if g in keep_groups:
            remap[e] = len(out.episodes)
            out.episodes.append(ep)
            out.groups.append(g)
    for row in batch.rows:
        if row.episode in remap:
            row.episode = remap[row.episode]
            out.rows.append(row)
    return out, dropped
