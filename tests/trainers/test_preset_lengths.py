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
