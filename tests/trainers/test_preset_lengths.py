"""A preset's `max_new_tokens` must let the policy emit what SFT teaches it: an oracle action cut
short is unparseable, and a run whose clones are cut trains on format failures."""

from __future__ import annotations

import numpy as np
import pytest

import stepgym
from stepgym.agents.tiny import load_tokenizer
from stepgym.trainers.config import preset


def _oracle_action_tokens(name: str, episodes: int) -> np.ndarray:
    cfg = preset(name)
    tok = load_tokenizer()
    env = stepgym.make(cfg.env_id, **{**cfg.env_kwargs, "split": cfg.train_split})
    lengths = []
    try:
        for seed in range(episodes):
            env.reset(seed=seed)
            done = False
            while not done:
                action = env.unwrapped.oracle_action()
                lengths.append(len(tok(action, add_special_tokens=False)["input_ids"]) + 1)  # + the end token
                _, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    return np.array(lengths)


@pytest.mark.parametrize("name,episodes,share", [
    # mobile-branching-tiny shares mobile-arpo-tiny's env and budget (_MOBILE_ARPO)
    ("mobile-arpo-tiny", 30, 1.0), ("desktop-arpo-tiny", 12, 1.0), ("tooluse-arpo-tiny", 60, 0.9),
])
def test_preset_generation_budget_fits_the_oracle_actions(name, episodes, share):
    lengths = _oracle_action_tokens(name, episodes)
    fits = float((lengths <= preset(name).max_new_tokens).mean())
    assert fits >= share, f"{name}: {fits:.0%} of oracle actions fit max_new_tokens (longest {lengths.max()})"


def test_mobile_preset_prompts_are_short_and_name_every_action_its_oracle_plays():
    """What made the tiny Mobile SFT learn (README, "ARPO: experience replay"): a prompt of a few
    hundred tokens, not AndroidWorld's 1.2-1.7k, and a system prompt that shows each action type the
    demonstrations use."""
    import json

    cfg = preset("mobile-arpo-tiny")
    tok = load_tokenizer()
    system = len(tok(cfg.system_prompt)["input_ids"])
    env = stepgym.make(cfg.env_id, **{**cfg.env_kwargs, "image": False})
    longest, kinds = 0, set()
    try:
        for seed in range(24):
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                longest = max(longest, len(tok(obs["text"])["input_ids"]))
                action = env.unwrapped.oracle_action()
                kinds.add(json.loads(action)["action_type"])
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    assert system + longest < 500, (system, longest)
    assert all(f'"action_type": "{k}"' in cfg.system_prompt for k in kinds), kinds
    assert kinds >= {"open_app", "click", "answer", "status"}
