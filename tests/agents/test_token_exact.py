"""Token-exact conversations (PromptConfig.token_exact): every turn stays as it was sampled, so the
tokens a trainer scores in an episode's context are the tokens the policy generated."""

from __future__ import annotations

import pytest
import torch

from stepgym.agents.hf import (
    GenerationSettings,
    HFPolicy,
    collate,
    conversation_sequence,
    position_ids_for,
)
from stepgym.agents.prompting import PromptConfig
from stepgym.envs.pool import EnvPool
from stepgym.runner import EpisodeJob, collect_episodes


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    return HFPolicy(tiny_dir)


def play(loaded, token_exact: bool, *, image: bool = True, episodes: int = 2, max_steps: int = 5):
    """Sokoban episodes of the tiny VLM in conversation mode: (policy, [(step inputs, actions) per episode])."""
    policy = HFPolicy(loaded.model, loaded.processor, GenerationSettings(max_new_tokens=6, temperature=1.0, seed=1),
                      PromptConfig(history_mode="conversation", history_len=None, token_exact=token_exact,
                                   include_image=image, max_pixels=16 * 28 * 28))
    seen: dict[str, list] = {}
    with EnvPool("stepgym/Sokoban-v0", num_envs=2, env_kwargs={"image": image, "max_steps": max_steps}) as pool:
        episodes_ = collect_episodes(pool, policy, [EpisodeJob(seed=s) for s in range(episodes)],
                                     on_step=lambda ep, st, inp, act: seen.setdefault(ep.episode_id, []).append((inp, act)))
    return policy, [seen[ep.episode_id] for ep in episodes_]


@pytest.fixture(scope="module")
def exact(loaded):
    return play(loaded, token_exact=True)[1]


@pytest.fixture(scope="module")
def plain(loaded):
    return play(loaded, token_exact=False)[1]


def extends(before, after) -> bool:
    prefix = before.prompt_ids + before.token_ids
    return after.prompt_ids[:len(prefix)] == prefix


def test_each_prompt_extends_the_previous_prompt_and_its_sampled_ids(exact, plain):
    pairs = [(a, b) for ep in exact for (_, a), (_, b) in zip(ep, ep[1:])]
    assert len(pairs) >= 6 and all(extends(a, b) for a, b in pairs)
    assert all(act.prompt_inputs.meta.get("token_exact") for ep in exact for _, act in ep)
    # the images of earlier turns stay in the prompt: one per step so far
    _, act = exact[0][-1]
    assert act.prompt_inputs.image_grid_thw.shape[0] == len(exact[0])
    # re-rendering earlier turns from their text (the default) does not keep the sampled ids
    assert not all(extends(a, b) for ep in plain for (_, a), (_, b) in zip(ep, ep[1:]))


def test_the_episode_scored_as_one_sequence_gives_the_sampled_logprobs(loaded, exact):
    """One teacher-forced pass over the whole episode: at every step's generated span the log-probs
    equal those the policy sampled with, so a multi-turn loss scores what was generated."""
    acts = [act for _, act in exact[0]]
    prompt, response, spans = conversation_sequence(acts)
    batch = collate([prompt], loaded.pad_id, [response])
    batch["position_ids"] = position_ids_for(loaded.model, batch)
    with torch.no_grad():
        logp = torch.log_softmax(loaded.model(**batch, use_cache=False).logits.float()[0], dim=-1)
    ids = batch["input_ids"][0]
    assert spans[-1][1] == len(ids) and len(spans) == len(acts)
    for (start, end), act in zip(spans, acts):
        scored = logp[start - 1:end - 1].gather(-1, ids[start:end, None]).squeeze(-1)
        assert ids[start:end].tolist() == act.token_ids
        torch.testing.assert_close(scored, torch.tensor(act.logprobs), atol=2e-4, rtol=0)


def test_a_conversation_met_midway_is_rebuilt_to_the_same_ids(loaded, exact):
    """A policy that did not play the episode (a resumed run, a scorer) rebuilds each prompt from the
    history's observations and generated ids, to exactly the ids that were sampled."""
    fresh = HFPolicy(loaded.model, loaded.processor, prompt=PromptConfig(
        history_mode="conversation", history_len=None, token_exact=True, max_pixels=16 * 28 * 28))
    inp, act = exact[1][-1]
    again = fresh.encode([inp])[0]
    assert again.ids == act.prompt_ids
    torch.testing.assert_close(again.pixel_values, act.prompt_inputs.pixel_values)


def test_text_only_conversation_and_oracle_turns(loaded):
    """Text observations, and earlier turns no model generated (an oracle's, as in SFT), whose text is
    tokenised as SFT trains it: action ids then EOS."""
    _, episodes = play(loaded, token_exact=True, image=False, episodes=1, max_steps=3)
    pairs = list(zip(episodes[0], episodes[0][1:]))
    assert pairs and all(extends(a, b) for (_, a), (_, b) in pairs)
    inp, _ = episodes[0][1]
    oracle = inp.history[0]
    oracle.policy = {}
    oracle.action = "left"
    fresh = HFPolicy(loaded.model, loaded.processor, prompt=PromptConfig(
        history_mode="conversation", history_len=None, token_exact=True, include_image=False))
    ids = fresh.encode([inp])[0].ids
    turn = fresh.tokenizer.encode("left", add_special_tokens=False) + [fresh.eos_ids[0]]
    assert any(ids[i:i + len(turn)] == turn for i in range(len(ids)))


def test_bad_settings_are_named(plain):
    with pytest.raises(ValueError, match="token_exact needs history_mode='conversation' and history_len=None"):
        PromptConfig(token_exact=True)
    with pytest.raises(ValueError, match="history_len=3"):
        PromptConfig(history_mode="conversation", history_len=3, token_exact=True)
    with pytest.raises(ValueError, match="step 1's prompt does not extend step 0's"):
        conversation_sequence([act for _, act in plain[0]])
    with pytest.raises(ValueError, match="at least one step"):
        conversation_sequence([])
    from stepgym.agents.openai_backend import OpenAIPolicy

    with pytest.raises(ValueError, match="cannot keep earlier turns token-exact"):  # raised before any request
        OpenAIPolicy("http://127.0.0.1:9/v1", "m", prompt=PromptConfig(
            history_mode="conversation", history_len=None, token_exact=True))
