"""HF backend: log-probs from act() equal a teacher-forced pass; seeding; EOS handling; batching."""

from __future__ import annotations

import pytest
import torch
from _agent_inputs import sokoban_inputs

from stepgym.agents.hf import (
    ENTROPY_TOKENS,
    GenerationSettings,
    HFPolicy,
    PromptInputs,
    sequence_logprobs,
)
from stepgym.agents.prompting import PromptConfig


@pytest.fixture(scope="module")
def batch():
    inputs = sokoban_inputs(6)
    inputs[2].observation = {"text": inputs[2].observation["text"]}  # a text-only row in the batch
    return inputs


@pytest.mark.parametrize("settings", [
    GenerationSettings(max_new_tokens=12, temperature=1.0, seed=3),
    GenerationSettings(max_new_tokens=12, temperature=0.7, top_p=0.9, top_k=50, seed=4),
    GenerationSettings(max_new_tokens=12, temperature=0),
])
def test_act_logprobs_equal_teacher_forced(tiny_dir, batch, settings):
    policy = HFPolicy(tiny_dir, config=settings)
    actions = policy.act(batch)
    prompts = policy.encode(batch)
    assert [p.ids for p in prompts] == [a.prompt_ids for a in actions] == [a.prompt_inputs.ids for a in actions]
    assert prompts[0].pixel_values is not None and prompts[2].pixel_values is None
    lp, ent = sequence_logprobs(policy.model, prompts, [a.token_ids for a in actions], with_entropy=True)
    for a, lp_i, e in zip(actions, lp, ent, strict=True):
        assert lp_i.shape == e.shape == (len(a.token_ids),)
        torch.testing.assert_close(lp_i, torch.tensor(a.logprobs), atol=1e-4, rtol=0)
        assert (e > 0).all() and (e <= torch.log(torch.tensor(float(len(policy.tokenizer)))) + 1e-4).all()
    # raw-logit log-probs: with temperature 0.7 / top-p they are *not* the sampling distribution's
    assert all(x < 0 for a in actions for x in a.logprobs)


def test_action_entropy_is_the_first_tokens_mean(tiny_dir, batch):
    """meta["entropy"]: mean entropy (nats) of the first 20 generated tokens' full distributions,
    as a teacher-forced pass computes them; meta["entropy_norm"]: that over log|V| (ARPO's scale)."""
    policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=2 * ENTROPY_TOKENS, seed=5))
    actions = policy.act(batch)
    _, ent = sequence_logprobs(policy.model, policy.encode(batch), [a.token_ids for a in actions], with_entropy=True)
    vocab = policy.model.get_output_embeddings().weight.shape[0]
    assert any(len(a.token_ids) > ENTROPY_TOKENS for a in actions)  # the cut at 20 tokens is exercised
    for a, e in zip(actions, ent, strict=True):
        expected = float(e[:ENTROPY_TOKENS].detach().mean())
        assert a.meta["entropy"] == pytest.approx(expected, abs=1e-4)
        assert a.meta["entropy_norm"] == pytest.approx(expected / torch.log(torch.tensor(float(vocab))).item(), abs=1e-5)
        assert 0 < a.meta["entropy_norm"] <= 1


def test_sequence_logprobs_is_differentiable(tiny_dir, batch):
    policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=6, seed=0))
    actions = policy.act(batch[:3])
    policy.model.train()
    try:
        lp, ent = policy.sequence_logprobs(policy.encode(batch[:3]), [a.token_ids for a in actions])
        assert ent is None
        torch.stack([x.sum() for x in lp]).sum().backward()
        grads = [p.grad for p in policy.model.parameters() if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads)
        assert policy.model.model.visual.patch_embed.proj.weight.grad.abs().sum() > 0  # through the image
    finally:
        policy.model.eval()
        policy.model.zero_grad(set_to_none=True)


def test_seeded_sampling_replays(tiny_dir, batch):
    def rollout(seed):
        policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=6, seed=seed))
        return [[a.token_ids for a in policy.act(batch[:3])] for _ in range(2)]

    first = rollout(7)
    assert rollout(7) == first
    assert first[0] != first[1]  # successive calls draw fresh samples
    assert rollout(8) != first
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    rollout(7)
    assert torch.rand(1) == before  # the policy's seed leaves torch's global stream alone


def test_eos_ends_the_response(tiny_dir, batch):
    """Point <|im_end|>'s output row at row 1's last hidden state: greedy decoding stops at once there."""
    policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=10, temperature=0))
    eos = policy.tokenizer.convert_tokens_to_ids("<|im_end|>")
    head = policy.model.lm_head.weight
    saved = head.data.clone()
    prompts = policy.encode(batch[:2])
    try:
        with torch.no_grad():
            p = prompts[1]
            out = policy.model(input_ids=p.input_ids[None], mm_token_type_ids=p.mm_token_type_ids[None],
                               pixel_values=p.pixel_values, image_grid_thw=p.image_grid_thw,
                               output_hidden_states=True)
            h = out.hidden_states[-1][0, -1]
            head[eos] = h / h.norm() * 1e3
        actions = policy.generate(prompts)
        assert actions[1].token_ids == [eos] and actions[1].text == ""
        assert actions[1].meta["finish_reason"] == "stop"
        for a in actions:  # ids stop at the first EOS, inclusive; no padding after it
            assert eos not in a.token_ids[:-1] and policy.pad_id not in a.token_ids
    finally:
        with torch.no_grad():
            head.copy_(saved)


def test_conversation_mode_and_loaded_model(tiny_dir, batch):
    loaded = HFPolicy(tiny_dir)
    policy = HFPolicy(loaded.model, loaded.processor, GenerationSettings(max_new_tokens=4, temperature=0),
                      PromptConfig(history_mode="conversation"))
    actions = policy.act(batch[:2])
    assert len(actions) == 2 and all(a.meta["temperature"] == 0 for a in actions)
    assert policy.metadata()["prompt"]["history_mode"] == "conversation"
    with pytest.raises(ValueError, match="pass the processor"):
        HFPolicy(loaded.model)


def test_bad_inputs_are_named(tiny_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        HFPolicy(tmp_path)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        GenerationSettings(temperature=-1)
    with pytest.raises(ValueError, match="at least one token"):
        sequence_logprobs(None, [PromptInputs(torch.tensor([1]))], [[]])


def test_checkpoint_generation_config_does_not_leak(tiny_dir, batch):
    """A checkpoint's own sampling defaults (Qwen's top_k=1, repetition penalty) must not apply."""
    from transformers import GenerationConfig

    plain = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=6, seed=2))
    skewed = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=6, seed=2))
    skewed.model.generation_config = GenerationConfig(
        **skewed.model.generation_config.to_diff_dict(), top_k=1, top_p=0.001, repetition_penalty=1.5)
    assert [a.token_ids for a in skewed.act(batch[:3])] == [a.token_ids for a in plain.act(batch[:3])]
