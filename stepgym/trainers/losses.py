"""Token-level policy-gradient losses (PPO clip with clip-higher and dual clip, k3 KL, entropy).

Shapes: B = sequences (one per agent step's response), L = padded response length.
`mask` is 1 for real response tokens and 0 for padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Aggregation = Literal["token-mean", "sequence-mean"]


@dataclass
class LossOutput:
    """The scalar loss to backpropagate and the statistics a trainer logs."""

    loss: torch.Tensor
    pg_loss: torch.Tensor
    kl: torch.Tensor
    entropy: torch.Tensor
    clip_fraction: torch.Tensor  # share of tokens whose ratio was clipped
    approx_kl: torch.Tensor  # mean (old - new) log-prob, a cheap KL(old || new) estimate


def aggregate(values: torch.Tensor, mask: torch.Tensor, how: Aggregation) -> torch.Tensor:
    """Mean of `values` [B, L] over real tokens: over all tokens, or per sequence then over sequences."""
    mask = mask.to(values.dtype)
    if how == "token-mean":
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    if how == "sequence-mean":
        per_seq = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        has_tokens = (mask.sum(-1) > 0).to(values.dtype)
        return (per_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
    raise ValueError(f"aggregation must be 'token-mean' or 'sequence-mean', got {how!r}")


def broadcast_to_tokens(step_advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-step advantages [B] copied to each token of that step's response: [B, L]."""
    if step_advantages.dim() != 1 or step_advantages.shape[0] != mask.shape[0]:
        raise ValueError(
            f"step_advantages must be [B] with B = mask.shape[0]; got {tuple(step_advantages.shape)} "
            f"for mask {tuple(mask.shape)}"
        )
    return step_advantages[:, None].to(torch.float32) * mask.to(torch.float32)


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimator of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    log_ratio = ref_logprobs - logprobs
    return torch.exp(log_ratio) - log_ratio - 1.0


def ppo_loss(
    logprobs: torch.Tensor,  # [B, L] under the current policy (differentiable)
    old_logprobs: torch.Tensor,  # [B, L] under the policy that sampled the tokens
    advantages: torch.Tensor,  # [B] per step, or [B, L] per token
    mask: torch.Tensor,  # [B, L]
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.28,
    dual_clip: float | None = 3.0,
    ref_logprobs: torch.Tensor | None = None,  # [B, L] under the reference policy
    kl_coef: float = 0.0,
    entropy: torch.Tensor | None = None,  # [B, L] per-token entropy of the current policy
    entropy_coef: float = 0.0,
    aggregation: Aggregation = "token-mean",
) -> LossOutput:
    """PPO-clip surrogate per token: max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high)).

    Dual clip (Ye et al., 2020) bounds the loss of negative-advantage tokens by -A * dual_clip,
    so a huge ratio on a bad token cannot dominate. The total is
    pg + kl_coef * KL_k3(pi || ref) - entropy_coef * entropy, each aggregated the same way.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    if advantages.dim() == 1:
        advantages = broadcast_to_tokens(advantages, mask)
    if advantages.shape != logprobs.shape:
        raise ValueError(f"advantages {tuple(advantages.shape)} do not match logprobs {tuple(logprobs.shape)}")
    advantages = advantages.detach()
    log_ratio = logprobs - old_logprobs.detach()
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    pg = torch.maximum(loss_unclipped, loss_clipped)
    if dual_clip is not None:
        pg = torch.where(advantages < 0, torch.minimum(pg, -advantages * dual_clip), pg)
    clipped = (loss_clipped > loss_unclipped).to(logprobs.dtype)

    pg_loss = aggregate(pg, mask, aggregation)
    zero = logprobs.new_zeros(())
    kl = aggregate(kl_k3(logprobs, ref_logprobs.detach()), mask, aggregation) if ref_logprobs is not None else zero
    ent = aggregate(entropy, mask, aggregation) if entropy is not None else zero
    loss = pg_loss + kl_coef * kl - entropy_coef * ent
    with torch.no_grad():
        clip_fraction = aggregate(clipped, mask, "token-mean")
        approx_kl = aggregate(-log_ratio, mask, "token-mean")
    return LossOutput(loss, pg_loss, kl, ent, clip_fraction, approx_kl)


def sft_loss(logprobs: torch.Tensor, mask: torch.Tensor, aggregation: Aggregation = "token-mean") -> torch.Tensor:
    """Negative log-likelihood of target tokens [B, L] (behaviour cloning)."""
    return -aggregate(logprobs, mask, aggregation)
