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
