"""Behaviour cloning: oracle demonstrations recorded once, (prompt, target ids) examples, SFT steps."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from stepgym.agents.base import AgentInput
from stepgym.agents.hf import HFPolicy, PromptInputs
from stepgym.agents.scripted import OraclePolicy
from stepgym.envs.pool import EnvPool
from stepgym.episodes.io import EpisodeWriter, read_episodes
from stepgym.records import Episode
from stepgym.runner import EpisodeJob, collect_episodes, replay_inputs
from stepgym.trainers import distributed
from stepgym.trainers.losses import Totals, sft_loss

UNRECORDED_OBSERVATIONS = ("frames",)
"""Observation keys an episode record does not keep (`stepgym.runner`)."""
REPLAY_FILE = "replay.json"


def record_demos(out: str | Path, env_id: str, env_kwargs: dict[str, Any], seeds: Sequence[int],
                 num_envs: int) -> Path:
    """Oracle episodes, one per reset seed, recorded into `out` (kept if already there).

    An episode record keeps observation text and images; where the env also observes what a record
    does not keep (a video env's `frames` and their timestamps), `out/replay.json` names the env
    and its arguments, and `sft_examples` rebuilds each step's input by replaying the episode.

    Written to a temporary folder and renamed, so an interrupted recording is redone, never
    half-used.
    """
    out = Path(out)
    if (out / "episodes.jsonl").exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pool = EnvPool(env_id, num_envs=min(num_envs, max(len(seeds), 1)), env_kwargs=env_kwargs)
    unrecorded: set[str] = set()

    def note(ep, step, inp, act) -> None:
        unrecorded.update(k for k in UNRECORDED_OBSERVATIONS if k in inp.observation)

    try:
        with EpisodeWriter(tmp) as writer:
            collect_episodes(pool, OraclePolicy(), [EpisodeJob(seed=s) for s in seeds], writer=writer, on_step=note)
    finally:
        pool.close()
    if unrecorded:  # the record lacks what the policy saw: SFT rebuilds it by replaying the episodes
        (tmp / REPLAY_FILE).write_text(json.dumps({"env_id": env_id, "env_kwargs": env_kwargs,
                                                   "observations": sorted(unrecorded)}, indent=1) + "\n")
    os.replace(tmp, out)
    return out


def _replay_env(directory: Path):
    """The env to replay the demos in (from `replay.json`), or None where the record suffices."""
    spec = directory / REPLAY_FILE
    if not spec.exists():
        return None
    import stepgym

    data = json.loads(spec.read_text())
    return stepgym.make(data["env_id"], **data["env_kwargs"])


def _image(directory: Path, rel: str | None):
    if rel is None:
        return None
    from PIL import Image

    return np.asarray(Image.open(directory / rel).convert("RGB"))


def agent_inputs(episode: Episode, directory: Path, with_images: bool) -> list[AgentInput]:
    """The input the policy would have seen before each step of a recorded episode."""
    images = [_image(directory, s.image) if with_images else None for s in episode.steps]
    out = []
    for t, step in enumerate(episode.steps):
        obs = {"text": step.observation}
        if images[t] is not None:
            obs["image"] = images[t]
        out.append(AgentInput(env_index=0, observation=obs, info={}, instruction=episode.instruction,
                              action_doc=str(episode.meta.get("action_doc", "")),
                              history=episode.steps[:t], history_images=images[:t]))
    return out


def sft_examples(policy: HFPolicy, directory: str | Path, successful_only: bool = True,
                 ) -> list[tuple[PromptInputs, list[int]]]:
    """(prompt, target ids) per recorded step: the target is the action text followed by EOS.

    The prompt is built from the record, or, where `record_demos` wrote `replay.json` (the env
    observes more than a record keeps, e.g. video frames), from the episode replayed in that env,
    so the policy is cloned on the same inputs it later acts on."""
    directory = Path(directory)
    eos = policy.eos_ids[0]
    examples = []
    # the file holds episodes in finishing order, which depends on how many envs ran them
    replay_env = _replay_env(directory)
    try:
        for ep in sorted(read_episodes(directory), key=lambda e: (str(e.seed), e.task_id)):
            if successful_only and not ep.success:
                continue
            inputs = (replay_inputs(replay_env, ep) if replay_env is not None
                      else agent_inputs(ep, directory, with_images=policy.prompt.include_image))
            prompts = policy.encode(inputs)
            for prompt, step in zip(prompts, ep.steps):
                target = policy.tokenizer.encode(step.action, add_special_tokens=False) + [eos]
                examples.append((prompt, target))
    finally:
        if replay_env is not None:
            replay_env.close()
    if not examples:
        raise ValueError(f"no successful episodes to learn from in {str(directory)!r}")
    return examples


def pad(seqs: Sequence[Sequence[float]] | Sequence[torch.Tensor], dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded [B, L] tensor of `seqs` and its 0/1 mask."""
    length = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), length, dtype=dtype)
    mask = torch.zeros(len(seqs), length, dtype=torch.float32)
    for i, s in enumerate(seqs):
        t = s if isinstance(s, torch.Tensor) else torch.tensor(list(s), dtype=dtype)
        out[i, : len(t)] = t
        mask[i, : len(t)] = 1.0
    return out, mask


def pad_graph(seqs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Right-pad differentiable 1-D tensors to [B, L], keeping the autograd graph."""
    return torch.nn.utils.rnn.pad_sequence(list(seqs), batch_first=True)


SURE_LOGPROB = math.log(0.5)
"""A demonstrated step is *sure* when every one of its target tokens has log-prob above this: then
each is the argmax, and greedy decoding of that prompt writes the demonstrated action exactly."""


class SFTStep(NamedTuple):
    loss: float
    """Mean NLL per target token of the chunk, before the update."""
    sure: int
    """How many of the chunk's examples were sure (`SURE_LOGPROB`), before the update."""


def sft_step(policy: HFPolicy, optimizer: torch.optim.Optimizer, chunk: Sequence[tuple[PromptInputs, list[int]]],
             max_grad_norm: float, dist: distributed.Dist | None = None) -> SFTStep:
    """One behaviour-cloning gradient step on (prompt, target ids) pairs.

    Returns the chunk's mean NLL per token and how many of its examples greedy decoding already
    reproduces token for token (`SFTStep.sure`): a mean loss near 0 can hide one unlikely token
    per action, which makes every greedy copy of it wrong. Under data parallelism every rank holds
    the whole chunk, trains on its share and divides by the whole chunk's token count, so the
    summed gradients equal one process's."""
    dist = dist or distributed.Dist()
    mine = dist.shard(list(chunk))
    totals = Totals(float(sum(len(t) for _, t in chunk)), float(len(chunk)))
    optimizer.zero_grad(set_to_none=True)
    loss_value, sure = 0.0, 0
    if mine:
        logps, _ = policy.sequence_logprobs([p for p, _ in mine], [t for _, t in mine])
        _, mask = pad([t for _, t in mine])
        loss = sft_loss(pad_graph(logps), mask, totals=totals)
        loss.backward()
        loss_value = float(loss.detach())
        sure = sum(int(float(lp.detach().min()) > SURE_LOGPROB) for lp in logps)
    distributed.all_reduce_gradients(policy.model.parameters(), dist)
    torch.nn.utils.clip_grad_norm_(policy.model.parameters(), max_grad_norm)
    optimizer.step()
    loss_value, sure = distributed.all_reduce([loss_value, float(sure)], dist)
    return SFTStep(loss_value, int(round(sure)))
