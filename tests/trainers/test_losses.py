from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from stepgym.trainers.losses import aggregate, broadcast_to_tokens, kl_k3, ppo_loss, sft_loss


def _lp(ratios):
    return torch.log(torch.tensor(ratios, dtype=torch.float64))


def test_clip_boundaries_positive_advantage():
    # ratios 0.5, 1.0, 1.2, 1.28, 1.5 with A = +1: loss = -min(r, 1.28) (the lower clip
    # does not bind for A > 0 because max(-r, -clip(r)) = -r when r < 0.8)
    old = torch.zeros(1, 5, dtype=torch.float64)
    new = _lp([[0.5, 1.0, 1.2, 1.28, 1.5]])
    out = ppo_loss(new, old, torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 5),
                   clip_low=0.2, clip_high=0.28, dual_clip=None)
    assert_close(out.pg_loss, torch.tensor(-(0.5 + 1.0 + 1.2 + 1.28 + 1.28) / 5, dtype=torch.float64))
    assert_close(out.clip_fraction, torch.tensor(1 / 5, dtype=torch.float64))


def test_clip_boundaries_negative_advantage_and_dual_clip():
    old = torch.zeros(1, 4, dtype=torch.float64)
    new = _lp([[0.5, 0.9, 2.0, 5.0]])
    adv = torch.tensor([-1.0], dtype=torch.float64)
    # A = -1: loss = max(r, clip(r, 0.8, 1.28)) = [0.8, 0.9, 2.0, 5.0]
    plain = ppo_loss(new, old, adv, torch.ones(1, 4), dual_clip=None)
    assert_close(plain.pg_loss, torch.tensor((0.8 + 0.9 + 2.0 + 5.0) / 4, dtype=torch.float64))
    # dual clip 3: the last token's loss is capped at 3
    dual = ppo_loss(new, old, adv, torch.ones(1, 4), dual_clip=3.0)
    assert_close(dual.pg_loss, torch.tensor((0.8 + 0.9 + 2.0 + 3.0) / 4, dtype=torch.float64))


def test_gradient_is_zero_where_clipped():
    old = torch.zeros(1, 2, dtype=torch.float64)
    new = _lp([[1.0, 1.5]]).requires_grad_(True)
    ppo_loss(new, old, torch.tensor([2.0], dtype=torch.float64), torch.ones(1, 2), dual_clip=None).loss.backward()
    # d/dlogp of -A r = -A r at r=1 -> -2, averaged over 2 tokens -> -1; clipped token: 0
    assert_close(new.grad, torch.tensor([[-1.0, 0.0]], dtype=torch.float64))


def test_aggregations_and_masking():
    v = torch.tensor([[1.0, 2.0, 3.0], [10.0, 0.0, 0.0]])
    m = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert_close(aggregate(v, m, "token-mean"), torch.tensor(16.0 / 4))
    assert_close(aggregate(v, m, "sequence-mean"), torch.tensor((2.0 + 10.0) / 2))
    with pytest.raises(ValueError, match="aggregation"):
        aggregate(v, m, "sum")


def test_broadcast_and_shape_errors():
    m = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert_close(broadcast_to_tokens(torch.tensor([2.0, -1.0]), m), torch.tensor([[2.0, 2.0, 0.0], [-1.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="step_advantages must be"):
        broadcast_to_tokens(torch.tensor([1.0]), m)


def test_kl_k3_and_entropy_terms():
    lp = torch.log(torch.tensor([[0.5, 0.25]]))
    ref = torch.log(torch.tensor([[0.25, 0.25]]))
    expected = [0.5 - math.log(0.5) - 1.0, 0.0]  # exp(ref-lp) - (ref-lp) - 1
    assert_close(kl_k3(lp, ref), torch.tensor([expected]))
    ent = torch.tensor([[1.0, 3.0]])
    out = ppo_loss(lp, lp.detach(), torch.tensor([0.0]), torch.ones(1, 2), ref_logprobs=ref,
                   kl_coef=0.5, entropy=ent, entropy_coef=0.1)
    assert_close(out.loss, 0.5 * torch.tensor(sum(expected) / 2) - 0.1 * 2.0)


def test_sft_loss_is_mean_nll():
    lp = torch.log(torch.tensor([[0.5, 0.25, 1.0]]))
    assert_close(sft_loss(lp, torch.tensor([[1, 1, 0]])), torch.tensor(-(math.log(0.5) + math.log(0.25)) / 2))


# -- the registered losses -------------------------------------------------------------------------

from stepgym.trainers.config import TrainConfig  # noqa: E402
from stepgym.trainers.losses import LOSSES, LossInputs, gspo_loss  # noqa: E402
from stepgym.trainers.trainer import resolve_loss_settings  # noqa: E402


def test_gspo_uses_one_ratio_per_sequence_and_clips_whole_sequences():
    old = torch.zeros(2, 2, dtype=torch.float64)
    # sequence 0: token ratios 1.2 and 1.0 -> s0 = sqrt(1.2); sequence 1: one token of ratio 0.5
    new = _lp([[1.2, 1.0], [0.5, 1.0]]).requires_grad_(True)
    mask = torch.tensor([[1, 1], [1, 0]])
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    out = gspo_loss(new, old, adv, mask, clip_low=0.2, clip_high=0.28)
    s0 = math.sqrt(1.2)
    # A=+1: -s0 (inside the bounds); A=-1: max(0.5, clip(0.5, 0.8, 1.28)) = 0.8 (clipped)
    assert_close(out.pg_loss, torch.tensor((-s0 + 0.8) / 2, dtype=torch.float64))
    assert_close(out.clip_fraction, torch.tensor(0.5, dtype=torch.float64))
    out.loss.backward()
    # d/dlogp of -s0 is -s0 / |y0| per token, averaged over the 2 sequences; the clipped sequence gets 0
    assert_close(new.grad, torch.tensor([[-s0 / 4, -s0 / 4], [0.0, 0.0]], dtype=torch.float64))


def test_gspo_default_bounds_clip_a_sequence_that_ppo_would_not():
    old = torch.zeros(1, 2, dtype=torch.float64)
    new = _lp([[1.1, 1.1]]).requires_grad_(True)
    out = LOSSES.get("gspo")(LossInputs(new, old, torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 2)),
                             resolve_loss_settings(TrainConfig(loss="gspo")))
    assert_close(out.pg_loss, torch.tensor(-(1 + 4e-4), dtype=torch.float64))  # clipped at 1 + 4e-4
    out.loss.backward()
    assert_close(new.grad, torch.zeros(1, 2, dtype=torch.float64))


def test_gspo_rejects_token_advantages():
    with pytest.raises(ValueError, match="one advantage per sequence"):
        gspo_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))


def test_dr_grpo_sums_tokens_over_a_constant():
    v = torch.tensor([[1.0, 2.0, 3.0], [10.0, 0.0, 0.0]])
    m = torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert_close(aggregate(v, m, "sum-constant", constant=4), torch.tensor((6.0 + 10.0) / (2 * 4)))
    with pytest.raises(ValueError, match="positive constant"):
        aggregate(v, m, "sum-constant")
    # ratio 1, A = [1, -2]: token losses -1,-1,-1 and +2; summed (-1) over B * constant = 2 * 3
    lp = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    settings = resolve_loss_settings(TrainConfig(loss="dr_grpo", max_new_tokens=3))
    out = LOSSES.get("dr_grpo")(LossInputs(lp, lp.detach(), torch.tensor([1.0, -2.0], dtype=torch.float64), m), settings)
    assert_close(out.pg_loss, torch.tensor(-1.0 / 6, dtype=torch.float64))
    out.loss.backward()
    # no 1/|o| length normalisation: every token of a sequence gets the same weight, long or short
    assert_close(lp.grad, torch.tensor([[-1 / 6, -1 / 6, -1 / 6], [2 / 6, 0.0, 0.0]], dtype=torch.float64))


def test_dr_grpo_needs_advantages_without_std():
    with pytest.raises(ValueError, match="normalize='mean'"):
        resolve_loss_settings(TrainConfig(loss="dr_grpo", normalize="mean_std"))


def test_dapo_preset_is_clip_higher_token_mean():
    s = resolve_loss_settings(TrainConfig(loss="dapo"))
    assert (s.clip_low, s.clip_high, s.aggregation) == (0.2, 0.28, "token-mean")
    old = torch.zeros(1, 3, dtype=torch.float64)
    new = _lp([[1.5, 1.25, 0.7]])
    out = LOSSES.get("dapo")(LossInputs(new, old, torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 3)), s)
    # A=+1: -min(r, 1.28) per token; the lower bound does not bind for positive advantages
    assert_close(out.pg_loss, torch.tensor(-(1.28 + 1.25 + 0.7) / 3, dtype=torch.float64))
    ppo = LOSSES.get("ppo")(LossInputs(new, old, torch.tensor([1.0], dtype=torch.float64), torch.ones(1, 3)),
                            resolve_loss_settings(TrainConfig(loss="ppo")))
    assert_close(ppo.pg_loss, torch.tensor(-(1.2 + 1.2 + 0.7) / 3, dtype=torch.float64))


def test_config_values_override_a_loss_default():
    s = resolve_loss_settings(TrainConfig(loss="dapo", clip_high=0.4, aggregation="sequence-mean"))
    assert (s.clip_high, s.aggregation) == (0.4, "sequence-mean")


def test_importance_weights_scale_the_surrogate():
    old = torch.zeros(2, 1, dtype=torch.float64)
    lp = torch.zeros(2, 1, dtype=torch.float64, requires_grad=True)
    out = ppo_loss(lp, old, torch.tensor([1.0, 1.0], dtype=torch.float64), torch.ones(2, 1), dual_clip=None,
                   weights=torch.tensor([0.5, 2.0], dtype=torch.float64))
    assert_close(out.pg_loss, torch.tensor(-(0.5 + 2.0) / 2, dtype=torch.float64))
