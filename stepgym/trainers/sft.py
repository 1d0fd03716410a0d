"""Behaviour cloning data: (prompt inputs, target token ids) from recorded episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stepgym.agents.base import AgentInput
from stepgym.agents.hf import HFPolicy, PromptInputs
from stepgym.episodes.io import read_episodes
from stepgym.episodes.schema import Episode


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
    """(prompt, target ids) per recorded step: the target is the action text followed by EOS."""
    directory = Path(directory)
    eos = policy.eos_ids[0]
    examples = []
    # the file holds episodes in finishing order, which depends on how many envs ran them
    for ep in sorted(read_episodes(directory), key=lambda e: (str(e.seed), e.task_id)):
        if successful_only and not ep.success:
            continue
        inputs = agent_inputs(ep, directory, with_images=policy.prompt.include_image)
        prompts = policy.encode(inputs)
        for prompt, step in zip(prompts, ep.steps):
            target = policy.tokenizer.encode(step.action, add_special_tokens=False) + [eos]
            examples.append((prompt, target))
    if not examples:
        raise ValueError(f"no successful episodes to learn from in {str(directory)!r}")
    return examples
