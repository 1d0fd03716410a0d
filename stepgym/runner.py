"""Run a policy on an EnvPool until a list of (task, seed) jobs has been played as episodes.

The runner drives both envs and agents and writes the record, so it sits above all three
layers (docs/architecture.md); `stepgym play`/`eval`, SFT demos, evaluation and RL rollouts
all go through `collect_episodes`. `replay_inputs` gives back the exact inputs of a recorded
episode by replaying it (a record keeps observation text and images, not a video env's frames).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.envs.pool import EnvPool
from stepgym.episodes.io import EpisodeWriter
from stepgym.episodes.recorder import make_step
from stepgym.records import Episode, Step


@dataclass(frozen=True)
class EpisodeJob:
    """One episode to play: which task (None: the env picks by seed) and the reset seed."""

    seed: int | None
    task_id: str | None = None


@dataclass
class _Running:
    job: EpisodeJob
    episode: Episode
    obs: dict[str, Any]
    info: dict[str, Any]
    images: dict[int, Any]
    history_images: list[Any]


def finish_episode(ep: Episode, info: dict[str, Any]) -> None:
    """Close an episode from its last step's info: its success, and the error that ended it, if any."""
    ep.success = bool(info.get("success", False))
    if "error" in info:
        ep.meta["error"] = info["error"]


def collect_episodes(
    pool: EnvPool,
    policy: Policy,
    jobs: Sequence[EpisodeJob],
    *,
    env_id: str | None = None,
    writer: EpisodeWriter | None = None,
    save_images: bool = True,
    on_episode: Callable[[Episode], None] | None = None,
    on_step: Callable[[Episode, Step, AgentInput, AgentAction], None] | None = None,
) -> list[Episode]:
    """Play every job to the end, keeping all envs of the pool busy; returns episodes in job order.

    Each step asks the policy for all running envs' actions in one batch. `on_step` sees every
    step with the exact input the policy acted on (trainers use it to keep their own rows).
    """
    policy.bind(pool)
    env_id = env_id or pool.env_id or "custom"
    pending = list(enumerate(jobs))[::-1]
    running: dict[int, tuple[int, _Running]] = {}
    done: dict[int, Episode] = {}
    meta = policy.metadata()

    def start(slots: list[int]) -> None:
        starts = []
        while slots and pending:
            starts.append((slots.pop(0), *pending.pop()))
        if not starts:
            return
        resets = pool.reset(
            [s for s, _, _ in starts],
            seeds=[j.seed for _, _, j in starts],
            options=[{"task_id": j.task_id} if j.task_id else None for _, _, j in starts],
        )
        for (slot, order, job), (obs, info) in zip(starts, resets):
            ep = Episode(env_id=env_id, task_id=str(info.get("task_id", "")), seed=job.seed,
                         instruction=str(info.get("instruction", "")),
                         meta={"policy": meta, "action_doc": str(info.get("action_doc", ""))})
            running[slot] = (order, _Running(job, ep, obs, dict(info), {}, []))

    start(list(range(len(pool))))
    while running:
        slots = sorted(running)
        inputs = []
        for s in slots:
            r = running[s][1]
            inputs.append(AgentInput(
                env_index=s, observation=r.obs, info=r.info,
                instruction=r.episode.instruction, action_doc=str(r.info.get("action_doc", "")),
                # copies: the input must keep describing this step after the episode grows
                history=list(r.episode.steps), history_images=list(r.history_images),
            ))
        actions = policy.act(inputs)
        if len(actions) != len(inputs):
            raise RuntimeError(f"policy {policy.name!r} returned {len(actions)} actions for {len(inputs)} inputs")
        results = pool.step({s: a.text for s, a in zip(slots, actions)})
        freed = []
        for s, act, inp in zip(slots, actions, inputs):
            order, r = running[s]
            res = results[s]
            ep = r.episode
            index = len(ep.steps)
            image = r.obs.get("image") if save_images else None
            if image is not None:
                r.images[index] = image
            r.history_images.append(r.obs.get("image"))
            step_meta = dict(act.meta)
            if act.token_ids is not None:
                step_meta["token_ids"] = list(act.token_ids)
            if act.logprobs is not None:
                step_meta["logprobs"] = [float(x) for x in act.logprobs]
            step = make_step(index, r.obs, r.info, act.text, res.reward, res.terminated,
                             res.truncated, res.info, step_meta)
            ep.steps.append(step)
            ep.total_reward += res.reward
            if on_step is not None:
                on_step(ep, step, inp, act)
            # keep reset-time keys (instruction, action_doc) while taking the step's news
            r.info = {**r.info, **res.info}
            r.obs = res.obs
            if res.done:
                finish_episode(ep, res.info)
                if writer is not None:
                    writer.write(ep, r.images)
                done[order] = ep
                if on_episode is not None:
                    on_episode(ep)
                del running[s]
                freed.append(s)
        start(freed)
    return [done[i] for i in range(len(jobs))]


# -- replay ------------------------------------------------------------------------------------------
class ReplayMismatch(RuntimeError):
    """A replayed episode left the recorded path (the env or its kwargs differ from the recording's)."""


def replay_inputs(env: Any, episode: Episode) -> list[AgentInput]:
    """One `AgentInput` per recorded step, as `collect_episodes` built it, observations whole.

    An episode record keeps each step's observation text and image, not all an env observes (a
    video env's `frames` and `info["frame_timestamps"]`). Envs are deterministic per (seed, task),
    so resetting `env` with the episode's seed and task and re-taking its actions gives every
    observation back; each replayed state is checked against the recorded `state_key`.

        env = stepgym.make("stepgym/VideoSearch-v0", frame_budget=8)
        prompts = policy.encode(replay_inputs(env, episode))   # what the policy saw, frames included
    """
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
