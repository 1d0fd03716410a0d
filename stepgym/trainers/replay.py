"""ARPO's experience replay: a per-task buffer of recent successes, injected into all-negative groups.

Lu et al., "ARPO: End-to-End Policy Optimization for GUI Agents with Experience Replay". Its rule,
with its constants as this module's defaults:

- the buffer keeps, per task, the latest 8 episodes whose return is above 0.1 (first in, first out);
- a group is *all negative* when the std of its returns is below 0.05 and their mean below 0.2
  (population std); such a group's first episode is replaced by a stored success of the same task,
  drawn at random, so the group keeps its size and its advantages are no longer all zero;
- the buffer is updated from the batch as it was sampled, never from replayed episodes. This
  module draws for a group from the buffer as it stood before the batch, then adds the batch.

What happens to replayed rows in the update is the trainer's business: with
`old_logprobs="recompute"` (ARPO) their PPO ratio starts at 1, with `importance_cap=c` they are
also weighted by min(pi_old / mu, c), mu being the behaviour log-probs each stored row kept from
the moment it was sampled.

Entries are compact: per step the prompt as chat messages whose images are references to PNG
files under `RUN_DIR/replay/media/` (content-addressed, written once), a hash of the prompt's
token ids, the response's token ids, the behaviour log-probs and the reward; never pixel tensors.
A replayed step's model inputs are re-encoded from those messages and checked against the hash.
The buffer is JSON (`state_dict`), so the trainer's checkpoint carries it and a resumed run equals
an uninterrupted one. Every injected episode is also written, marked with `meta["replay"]`, to
`RUN_DIR/replay/episodes.jsonl`: `stepgym view RUN_DIR/replay` shows what was replayed where.

    TrainConfig(rollout="replay", rollout_kwargs={"capacity": 8}, old_logprobs="recompute")
    TrainConfig(rollout="replay", rollout_kwargs={"replay": False})  # same statistics, no injection
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.episodes.io import EPISODES_FILE, EpisodeWriter, read_episodes
from stepgym.records import Episode
from stepgym.trainers.rollout import EpisodeRollout, GroupSpec, RolloutBatch, StepRow, play_groups
from stepgym.trainers.seeding import derive_seed
from stepgym.trainers.strategy import ROLLOUTS, RolloutContext, RolloutStrategy

REPLAY_DIR = "replay"
MEDIA_DIR = "media"


def is_replayed(episode: EpisodeRollout | Episode) -> bool:
    """Whether an episode was injected from the replay buffer (its record carries `meta["replay"]`)."""
    record = episode.episode if isinstance(episode, EpisodeRollout) else episode
    return "replay" in record.meta


def all_negative(returns: np.ndarray, std_below: float = 0.05, mean_below: float = 0.2) -> bool:
    """ARPO's test of a group that gives no learning signal: std(returns) < 0.05 and mean < 0.2.

    >>> all_negative(np.array([0.0, 0.0, 0.0])), all_negative(np.array([0.0, 1.0, 0.0]))
    (True, False)
    """
    returns = np.asarray(returns, dtype=np.float64)
    return returns.size > 0 and float(returns.std()) < std_below and float(returns.mean()) < mean_below


# -- the buffer ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredStep:
    """One step of a stored success: enough to rebuild its `StepRow` exactly."""

    messages: list[dict[str, Any]]  # the prompt as chat messages; images as {"type": "image", "ref": path, ...}
    prompt_sha: str  # SHA-1 of the prompt's token ids (a re-encoded prompt must match it)
    response_ids: list[int]
    behaviour_logprobs: list[float]  # mu: log-probs of the response under the policy that sampled it
    reward: float
    state_key: str
    step_index: int
    action_valid: bool


@dataclass(frozen=True)
class StoredEpisode:
    """A success kept for replay: its record (images as media references) and its steps."""

    task_id: str
    episode: dict[str, Any]  # `Episode.to_dict()`, step images pointing into the media folder
    steps: list[StoredStep]
    episode_return: float
    iteration: int  # the RL iteration that sampled it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StoredEpisode:
        return cls(**{**d, "steps": [StoredStep(**s) for s in d["steps"]]})


class ReplayBuffer:
    """Per task, the latest `capacity` episodes whose return is above `success_threshold` (FIFO)."""

    def __init__(self, capacity: int = 8, success_threshold: float = 0.1) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"replay capacity must be a positive int (episodes per task), got {capacity!r}")
        self.capacity, self.success_threshold = capacity, float(success_threshold)
        self._tasks: dict[str, list[StoredEpisode]] = {}

    def accepts(self, episode_return: float) -> bool:
        return episode_return > self.success_threshold

    def add(self, entry: StoredEpisode) -> None:
        """Append a success of `entry.task_id`, evicting that task's oldest entry when full."""
        if not self.accepts(entry.episode_return):
            raise ValueError(f"replay buffer keeps returns above {self.success_threshold}, got {entry.episode_return}")
        kept = self._tasks.setdefault(entry.task_id, [])
        kept.append(entry)
        del kept[: max(0, len(kept) - self.capacity)]

    def get(self, task_id: str) -> list[StoredEpisode]:
        """The stored successes of a task, oldest first (empty when there are none)."""
        return list(self._tasks.get(task_id, []))

    def sample(self, task_id: str, rng: np.random.Generator) -> StoredEpisode | None:
        """A stored success of `task_id` drawn uniformly, or None when the task has none."""
        kept = self._tasks.get(task_id)
        return kept[int(rng.integers(len(kept)))] if kept else None

    def sizes(self) -> dict[str, int]:
        """Stored successes per task."""
        return {t: len(v) for t, v in self._tasks.items() if v}

    def __len__(self) -> int:
        return sum(len(v) for v in self._tasks.values())

    def state_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "success_threshold": self.success_threshold,
                "tasks": {t: [e.to_dict() for e in v] for t, v in self._tasks.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._tasks = {t: [StoredEpisode.from_dict(e) for e in v] for t, v in state.get("tasks", {}).items()}
        for v in self._tasks.values():  # a smaller capacity than the checkpoint's keeps the newest
            del v[: max(0, len(v) - self.capacity)]


# -- media: images of stored prompts as PNG files ---------------------------------------------------


class MediaStore:
    """Content-addressed PNGs under `directory/media/`: a file is written once and never changed,
    so a checkpoint's references stay valid whatever the run does after it."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def put(self, image) -> str:
        """Save a PIL image (RGB) if not yet stored; returns its path relative to `directory`."""
        rgb = image.convert("RGB")
        digest = hashlib.sha1(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()[:20]
        rel = f"{MEDIA_DIR}/{digest}.png"
        path = self.directory / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            rgb.save(tmp, format="PNG")
            os.replace(tmp, path)
        return rel

    def get(self, rel: str):
        from PIL import Image

        path = self.directory / rel
        if not path.exists():
            raise FileNotFoundError(f"replay media {str(path)!r} is missing: the buffer refers to it; "
                                    f"was {str(self.directory)!r} moved or cleaned?")
        with Image.open(path) as im:
            return im.convert("RGB")


def _store_messages(messages: list[dict[str, Any]], media: MediaStore) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") == "image":
                    parts.append({**{k: v for k, v in part.items() if k != "image"}, "ref": media.put(part["image"])})
                elif part.get("type") == "text":
                    parts.append(dict(part))
                else:
                    raise ValueError(f"experience replay stores text and image prompts; got a {part.get('type')!r} "
                                     "part (video prompts are not supported)")
            content = parts
        out.append({**m, "content": content})
    return out


def _load_messages(messages: list[dict[str, Any]], media: MediaStore) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [({**{k: v for k, v in p.items() if k != "ref"}, "image": media.get(p["ref"])} if "ref" in p
                        else dict(p)) for p in content]
        out.append({**m, "content": content})
    return out


def _ids_sha(ids: torch.Tensor) -> str:
    return hashlib.sha1(np.asarray(ids.tolist(), dtype=np.int64).tobytes()).hexdigest()


class _InputLog(Policy):
    """Passes `act` through and remembers the input behind each action's prompt (by identity), so
    that the prompt of a stored step can be kept as messages rather than as tensors."""

    def __init__(self, inner: Policy) -> None:
        self.inner, self.name = inner, inner.name
        self.inputs: dict[int, tuple[Any, AgentInput]] = {}

    def bind(self, pool) -> None:
        self.inner.bind(pool)

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        actions = self.inner.act(inputs)
        for inp, act in zip(inputs, actions):
            self.inputs[id(act.prompt_inputs)] = (act.prompt_inputs, inp)  # keeps the object alive: ids stay unique
        return actions

    def metadata(self) -> dict[str, Any]:
        return self.inner.metadata()

    def input_of(self, row: StepRow) -> AgentInput:
        prompt, inp = self.inputs[id(row.prompt)]
        if prompt is not row.prompt:
            raise RuntimeError("replay lost track of a step's input")
        return inp


# -- the strategy ----------------------------------------------------------------------------------


@ROLLOUTS.register("replay")
class ReplayRollouts(RolloutStrategy):
    """Plain groups (as "groups"), with ARPO's experience replay into all-negative groups.

    Options (`TrainConfig.rollout_kwargs`): `replay` (False: no buffer, no injection; the batch
    equals "groups"' and the statistics are still logged), `capacity` (8 successes per task),
    `success_threshold` (0.1: a return above it is a success to keep), `negative_std` (0.05) and
    `negative_mean` (0.2) (a group is all negative below both), `directory` (media and the log of
    injected episodes; default `RUN_DIR/replay`).

    Logged per iteration (`RolloutBatch.stats`): `replay_all_negative_groups`, `replay_injections`,
    `replayed_rows` and `replay_rows_share`, `replay_buffer_tasks`, `replay_buffer_episodes`,
    `replay_buffer_per_task_max`, and for iterations with injections `replay_ratio_mean` /
    `replay_ratio_max`: pi_old / mu over replayed tokens (the importance ratio before any cap).
    `rollout_success` and `rollout_return` are those of the episodes as sampled, replayed ones left
    out; `batch_success` counts them in.
    """

    def __init__(self, config, *, replay: bool = True, capacity: int = 8, success_threshold: float = 0.1,
                 negative_std: float = 0.05, negative_mean: float = 0.2, directory: str | None = None) -> None:
        super().__init__(config)
        if not isinstance(replay, bool):
            raise ValueError(f"rollout_kwargs replay must be true or false, got {replay!r}")
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise ValueError("rollout='replay' keeps one buffer per process and is not available in data-parallel "
                             "runs (torchrun) yet; use rollout='groups'")
        self.enabled = replay
        self.buffer = ReplayBuffer(capacity, success_threshold)
        self.negative_std, self.negative_mean = float(negative_std), float(negative_mean)
        self.directory = Path(directory) if directory else Path(config.run_dir) / REPLAY_DIR
        self.media = MediaStore(self.directory)
        self.last_iteration = -1

    # -- one iteration ---------------------------------------------------------------------------
    def collect(self, ctx: RolloutContext, specs: Sequence[GroupSpec]) -> RolloutBatch:
        cfg = self.config
        log = _InputLog(ctx.sampler())
        sampled = play_groups(ctx.pool, log, specs, cfg.group_size, invalid_action_penalty=cfg.invalid_action_penalty,
                              no_effect_penalty=cfg.no_effect_penalty)
        return self.replay(ctx, sampled, log)

    def replay(self, ctx: RolloutContext, sampled: RolloutBatch, log: _InputLog) -> RolloutBatch:
        """`sampled` with ARPO's injections, and the buffer updated from `sampled` (whose rows' prompts
        `log` saw being made)."""
        cfg = self.config
        groups, injected, negative = [], [], 0
        for group in sampled.groups:
            failed = any(e.infra_failure for e in group.episodes)  # the trainer replays or drops it
            if failed or not all_negative(group.returns, self.negative_std, self.negative_mean):
                groups.append(group)
                continue
            negative += 1
            rng = np.random.default_rng(derive_seed(cfg.seed, "replay-draw", ctx.iteration, group.group_id))
            entry = self.buffer.sample(group.spec.task_id or "", rng) if self.enabled else None
            if entry is None:
                groups.append(group)
                continue
            episode = self._restore(ctx, entry, group.spec, ctx.iteration)
            injected.append(episode)
            groups.append(replace(group, episodes=(episode, *group.episodes[1:])))
        if self.enabled:
            self._store(ctx, log, sampled)  # the batch as sampled: replayed episodes never re-enter
            self._log_injections(injected)
        self.last_iteration = ctx.iteration
        batch = RolloutBatch(tuple(groups))
        return RolloutBatch(batch.groups, self._stats(ctx, sampled, batch, injected, negative))

    def _store(self, ctx: RolloutContext, log: _InputLog, batch: RolloutBatch) -> None:
        for group in batch.groups:
            if any(e.infra_failure for e in group.episodes):
                continue
            for ep in group.episodes:
                if self.buffer.accepts(ep.episode_return) and ep.rows:
                    self.buffer.add(self._entry(ctx, log, group.spec, ep))

    def _entry(self, ctx: RolloutContext, log: _InputLog, spec: GroupSpec, ep: EpisodeRollout) -> StoredEpisode:
        inputs = [log.input_of(r) for r in ep.rows]
        steps = [StoredStep(messages=_store_messages(msgs, self.media), prompt_sha=_ids_sha(r.prompt.input_ids),
                            response_ids=list(r.response_ids), behaviour_logprobs=list(r.sampled_logprobs),
                            reward=float(r.reward), state_key=r.state_key, step_index=r.step_index,
                            action_valid=r.action_valid)
                 for r, msgs in zip(ep.rows, ctx.policy.messages(inputs))]
        record = copy.deepcopy(ep.episode)
        for step, inp in zip(record.steps, inputs):
            image = inp.observation.get("image")
            step.image = self.media.put(_pil(image)) if image is not None else None
            step.policy = {k: v for k, v in step.policy.items() if k not in ("token_ids", "logprobs")}
        return StoredEpisode(task_id=spec.task_id or "", episode=record.to_dict(), steps=steps,
                             episode_return=ep.episode_return, iteration=ctx.iteration)

    def _restore(self, ctx: RolloutContext, entry: StoredEpisode, spec: GroupSpec, iteration: int) -> EpisodeRollout:
        """The stored success as an episode of this batch: prompts re-encoded, marked as replayed."""
        prompts = ctx.policy.encode_messages([_load_messages(s.messages, self.media) for s in entry.steps])
        for s, p in zip(entry.steps, prompts):
            if _ids_sha(p.input_ids) != s.prompt_sha:
                raise RuntimeError(f"a replayed prompt of task {entry.task_id!r} (step {s.step_index}) re-encodes to "
                                   "other token ids than were sampled: the processor or prompt settings changed")
        record = Episode.from_dict(entry.episode)
        source = record.episode_id
        record.episode_id = f"{source}-replay{iteration}"
        record.meta = {**record.meta, "replay": {"source_episode": source, "source_iteration": entry.iteration,
                                                 "iteration": iteration, "group_id": spec.group_id,
                                                 "group_seed": spec.seed}}
        rows = tuple(StepRow(prompt=p, response_ids=tuple(s.response_ids),
                             sampled_logprobs=tuple(s.behaviour_logprobs), reward=s.reward, state_key=s.state_key,
                             step_index=s.step_index, action_valid=s.action_valid)
                     for s, p in zip(entry.steps, prompts))
        return EpisodeRollout(record, rows)

    def _log_injections(self, injected: list[EpisodeRollout]) -> None:
        if not injected:
            return
        with EpisodeWriter(self.directory) as writer:
            for ep in injected:
                writer.write(copy.deepcopy(ep.episode))

    def _stats(self, ctx: RolloutContext, sampled: RolloutBatch, batch: RolloutBatch,
               injected: list[EpisodeRollout], negative: int) -> dict[str, float]:
        replayed_rows = sum(len(e.rows) for e in injected)
        sizes = self.buffer.sizes()
        stats: dict[str, Any] = {
            "replay_all_negative_groups": negative, "replay_injections": len(injected), "replayed_rows": replayed_rows,
            "replay_rows_share": replayed_rows / max(batch.num_steps, 1),
            "replay_buffer_tasks": len(sizes), "replay_buffer_episodes": sum(sizes.values()),
            "replay_buffer_per_task_max": max(sizes.values(), default=0),
            "rollout_success": float(np.mean([e.episode.success for e in sampled.episodes])) if sampled.episodes else 0.0,
            "rollout_return": float(np.mean([e.episode.total_reward for e in sampled.episodes])) if sampled.episodes else 0.0,
            "batch_success": float(np.mean([e.episode.success for e in batch.episodes])) if batch.episodes else 0.0,
        }
        if injected:
            stats.update(_ratio_stats(ctx, [r for e in injected for r in e.rows]))
        return stats

    # -- checkpoint ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "last_iteration": self.last_iteration, "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not state:
            return
        self.buffer.load_state_dict(state["buffer"])
        self.last_iteration = int(state["last_iteration"])
        self._truncate_log(self.last_iteration)

    def _truncate_log(self, last_iteration: int) -> None:
        """Forget injections logged after the checkpoint (a resumed run logs them again)."""
        path = self.directory / EPISODES_FILE
        if not path.exists():
            return
        kept = [e for e in read_episodes(self.directory) if e.meta["replay"]["iteration"] <= last_iteration]
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in kept))
        os.replace(tmp, path)


@torch.no_grad()
def _ratio_stats(ctx: RolloutContext, rows: list[StepRow]) -> dict[str, float]:
    """pi / mu over replayed tokens under the current weights (pi_old of this iteration's update)."""
    lps, _ = ctx.policy.sequence_logprobs([r.prompt for r in rows], [list(r.response_ids) for r in rows])
    ratios = torch.cat([torch.exp(lp.float() - torch.tensor(r.sampled_logprobs)) for lp, r in zip(lps, rows)])
    if ratios.numel() == 0:
        return {}
    return {"replay_ratio_mean": float(ratios.mean()), "replay_ratio_max": float(ratios.max())}


def _pil(image):
    from stepgym.agents.prompting import to_pil

    return to_pil(image)
