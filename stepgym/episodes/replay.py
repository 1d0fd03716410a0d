"""Rebuild the exact inputs a policy saw during a recorded episode by replaying it in its env.

An episode record keeps each step's observation text and image, not everything an env observes:
a video env's decoded `frames` and `info["frame_timestamps"]` are not stored. Envs are
deterministic per (seed, task), so resetting the env with the episode's seed and task and
re-taking its recorded actions gives back every observation whole; each replayed state is checked
against the recorded `state_key`.

    env = stepgym.make("stepgym/VideoSearch-v0", frame_budget=8)
    inputs = replay_inputs(env, episode)       # one AgentInput per step, frames included
    prompts = policy.encode(inputs)            # what the policy saw: SFT targets line up with these
"""

from __future__ import annotations

from typing import Any

from stepgym.agents.base import AgentInput
from stepgym.episodes.schema import Episode


class ReplayMismatch(RuntimeError):
    """A replayed episode left the recorded path (the env or its kwargs differ from the recording's)."""


def replay_inputs(env: Any, episode: Episode) -> list[AgentInput]:
    """One `AgentInput` per recorded step, as `collect_episodes` built it, observations whole."""
    obs, info = env.reset(seed=episode.seed, options={"task_id": episode.task_id} if episode.task_id else None)
    info = dict(info)
    history_images: list[Any] = []
    inputs = []
    for t, step in enumerate(episode.steps):
        if str(info.get("state_key", "")) != step.state_key:
            raise ReplayMismatch(
                f"episode {episode.episode_id!r} ({episode.task_id}, seed {episode.seed}) step {t}: replayed state "
                f"{info.get('state_key')!r} but the record has {step.state_key!r}; make the env with the kwargs "
                "the episode was recorded with")
        inputs.append(AgentInput(
            env_index=0, observation=obs, info=info, instruction=episode.instruction,
            action_doc=str(info.get("action_doc", episode.meta.get("action_doc", ""))),
            history=list(episode.steps[:t]), history_images=list(history_images)))
        history_images.append(obs.get("image"))
        obs, _, terminated, truncated, step_info = env.step(step.action)
        info = {**info, **step_info}  # reset-time keys stay, as in collect_episodes
        if (terminated or truncated) and t < len(episode.steps) - 1:
            raise ReplayMismatch(f"episode {episode.episode_id!r}: the replay ended at step {t}, the record "
                                 f"has {len(episode.steps)} steps")
    return inputs
