"""Policy-gradient losses, registered by name (`TrainConfig.loss`), and the SFT loss.

Shapes: B = sequences (one per agent step's response), L = padded response length.
`mask` is 1 for real response tokens and 0 for padding.

Registered losses (each a `PolicyLoss`: the function and the clip bounds / aggregation it is
normally run with, which `TrainConfig` fields left at None take):

- `ppo`: token-level PPO clip (Schulman et al., 2017) with asymmetric bounds and dual clip
  (Ye et al., 2020), k3 KL to a reference, entropy bonus. Bounds 0.2 / 0.2, token-mean.
- `dapo`: the same surrogate with DAPO's clip-higher 0.2 / 0.28 and token-mean aggregation
  (Yu et al., 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at Scale").
- `gspo`: one importance ratio per sequence, the geometric mean of its token ratios, clipped at
  3e-4 / 4e-4 (Zheng et al., 2025, "Group Sequence Policy Optimization").
- `dr_grpo`: the PPO surrogate summed over tokens and divided by a constant (the most tokens a
  response may have), no length normalisation; pair it with `normalize="mean"` (no std), which
  the trainer checks (Liu et al., 2025, "Understanding R1-Zero-Like Training: A Critical Perspective").

Add one: write `fn(inputs: LossInputs, settings: LossSettings) -> LossOutput` and register it,
`LOSSES.register("name")(PolicyLoss(fn, clip_low=..., clip_high=..., aggregation=...))`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch

from stepgym.trainers.registry import Registry

Aggregation = Literal["token-mean", "sequence-mean", "sum-constant"]
AGGREGATIONS = ("token-mean", "sequence-mean", "sum-constant")


@dataclass
class LossOutput:
    """The scalar loss to backpropagate and the statistics a trainer logs."""

    loss: torch.Tensor
    pg_loss: torch.Tensor
    kl: torch.Tensor
    entropy: torch.Tensor
    clip_fraction: torch.Tensor  # share of tokens (of sequences, for GSPO) whose ratio was clipped
    approx_kl: torch.Tensor  # mean (old - new) log-prob, a cheap KL(old || new) estimate


def aggregate(values: torch.Tensor, mask: torch.Tensor, how: Aggregation, constant: float | None = None) -> torch.Tensor:
    """Reduce per-token `values` [B, L] over real tokens to a scalar.

    - "token-mean": mean over all real tokens of the batch;
    - "sequence-mean": mean over each sequence's tokens, then over sequences;
    - "sum-constant": each sequence's sum divided by `constant`, then the mean over sequences
      (Dr. GRPO: no 1/|o| length normalisation; `constant` is the longest allowed response).
    """
    mask = mask.to(values.dtype)
    if how == "token-mean":
        return (values * mask).sum() / mask.sum().clamp(min=1.0)
    if how == "sequence-mean":
        per_seq = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)
        has_tokens = (mask.sum(-1) > 0).to(values.dtype)
        return (per_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
    if how == "sum-constant":
        if constant is None or constant <= 0:
            raise ValueError(f"'sum-constant' aggregation needs a positive constant, got {constant!r}")
        return (values * mask).sum() / (values.shape[0] * float(constant))
    raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}; got {how!r}")


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


def _regularisers(logprobs, mask, ref_logprobs, kl_coef, entropy, entropy_coef, aggregation, constant):
    zero = logprobs.new_zeros(())
    kl = aggregate(kl_k3(logprobs, ref_logprobs.detach()), mask, aggregation, constant) if ref_logprobs is not None else zero
    ent = aggregate(entropy, mask, aggregation, constant) if entropy is not None else zero
    return kl, ent, kl_coef * kl - entropy_coef * ent


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
    constant: float | None = None,  # for aggregation="sum-constant"
    weights: torch.Tensor | None = None,  # [B] or [B, L] importance weights on the surrogate
) -> LossOutput:
    """PPO-clip surrogate per token: max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high)).

    Dual clip (Ye et al., 2020) bounds the loss of negative-advantage tokens by -A * dual_clip,
    so a huge ratio on a bad token cannot dominate. `weights` (detached) multiply each token's
    surrogate, e.g. truncated importance weights of off-policy rows. The total is
    pg + kl_coef * KL_k3(pi || ref) - entropy_coef * entropy, each aggregated the same way.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    if advantages.dim() == 1:
        advantages = broadcast_to_tokens(advantages, mask)
    if advantages.shape != logprobs.shape:
        raise ValueError(f"advantages {tuple(advantages.shape)} do not match logprobs {tuple(logprobs.shape)}")
    advantages = advantages.detach().to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs.detach()
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    pg = torch.maximum(loss_unclipped, loss_clipped)
    if dual_clip is not None:
        pg = torch.where(advantages < 0, torch.minimum(pg, -advantages * dual_clip), pg)
    if weights is not None:
        w = weights.detach().to(pg.dtype)
        pg = pg * (w[:, None] if w.dim() == 1 else w)
    clipped = (loss_clipped > loss_unclipped).to(logprobs.dtype)

    pg_loss = aggregate(pg, mask, aggregation, constant)
    kl, ent, reg = _regularisers(logprobs, mask, ref_logprobs, kl_coef, entropy, entropy_coef, aggregation, constant)
    with torch.no_grad():
        clip_fraction = aggregate(clipped, mask, "token-mean")
        approx_kl = aggregate(-log_ratio, mask, "token-mean")
    return LossOutput(pg_loss + reg, pg_loss, kl, ent, clip_fraction, approx_kl)


def gspo_loss(
    logprobs: torch.Tensor,  # [B, L] under the current policy (differentiable)
    old_logprobs: torch.Tensor,  # [B, L]
    advantages: torch.Tensor,  # [B] one per sequence
    mask: torch.Tensor,  # [B, L]
    *,
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    aggregation: Aggregation = "token-mean",  # of the KL and entropy terms
    weights: torch.Tensor | None = None,  # [B] (or [B, L], averaged per sequence)
) -> LossOutput:
    """GSPO: s_i = exp(mean_t(log pi - log pi_old)) per sequence; loss = mean_i max(-A_i s_i, -A_i clip(s_i)).

    The ratio of a whole response is the geometric mean of its token ratios, so one noisy token
    cannot swing the update; clipping acts on whole sequences (Zheng et al., 2025).
    """
    if advantages.dim() != 1 or advantages.shape[0] != logprobs.shape[0]:
        raise ValueError(f"GSPO takes one advantage per sequence: [B] with B={logprobs.shape[0]}, "
                         f"got {tuple(advantages.shape)}")
    m = mask.to(logprobs.dtype)
    length = m.sum(-1)
    has_tokens = (length > 0).to(logprobs.dtype)
    log_ratio = (logprobs - old_logprobs.detach()) * m
    seq_ratio = torch.exp(log_ratio.sum(-1) / length.clamp(min=1.0))  # [B]
    adv = advantages.detach().to(logprobs.dtype)
    unclipped = -adv * seq_ratio
    clipped_loss = -adv * torch.clamp(seq_ratio, 1.0 - clip_low, 1.0 + clip_high)
    pg_seq = torch.maximum(unclipped, clipped_loss)
    if weights is not None:
        w = weights.detach().to(pg_seq.dtype)
        pg_seq = pg_seq * (w if w.dim() == 1 else (w * m).sum(-1) / length.clamp(min=1.0))
    pg_loss = (pg_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
    kl, ent, reg = _regularisers(logprobs, mask, ref_logprobs, kl_coef, entropy, entropy_coef, aggregation, None)
    with torch.no_grad():
        clip_fraction = ((clipped_loss > unclipped).to(logprobs.dtype) * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
        approx_kl = aggregate(-(logprobs - old_logprobs), mask, "token-mean")
    return LossOutput(pg_loss + reg, pg_loss, kl, ent, clip_fraction, approx_kl)


def sft_loss(logprobs: torch.Tensor, mask: torch.Tensor, aggregation: Aggregation = "token-mean") -> torch.Tensor:
    """Negative log-likelihood of target tokens [B, L] (behaviour cloning)."""
    return -aggregate(logprobs, mask, aggregation)


# -- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossInputs:
    """What the trainer hands a registered loss for one minibatch."""

    logprobs: torch.Tensor  # [B, L] under the current policy (differentiable)
    old_logprobs: torch.Tensor  # [B, L] under the policy the ratio is taken against
    advantages: torch.Tensor  # [B]
    mask: torch.Tensor  # [B, L]
    ref_logprobs: torch.Tensor | None = None  # [B, L] under the reference policy (when kl_coef > 0)
    entropy: torch.Tensor | None = None  # [B, L]
    weights: torch.Tensor | None = None  # [B] or [B, L] importance weights (off-policy rows)


@dataclass(frozen=True)
class LossSettings:
    """A loss's hyper-parameters, resolved from `TrainConfig` and the loss's own defaults."""

    clip_low: float
    clip_high: float
    aggregation: Aggregation
    dual_clip: float | None = 3.0
    kl_coef: float = 0.0
    entropy_coef: float = 0.0
    max_response_tokens: int = 1  # the "constant" of sum-constant aggregation


@dataclass(frozen=True)
class PolicyLoss:
    """A registered loss: its function and the settings it is run with unless the config says otherwise."""

    fn: Callable[[LossInputs, LossSettings], LossOutput]
    clip_low: float
    clip_high: float
    aggregation: Aggregation
    requires_mean_only: bool = False  # advantages must be centred, not divided by the std

    @property
    def description(self) -> str:
        """The function's docstring (what the registry shows)."""
        return self.fn.__doc__ or ""

    def __call__(self, inputs: LossInputs, settings: LossSettings) -> LossOutput:
        return self.fn(inputs, settings)


LOSSES: Registry[PolicyLoss] = Registry("policy loss")


def _ppo(x: LossInputs, s: LossSettings) -> LossOutput:
    """PPO clip per token with asymmetric bounds and dual clip (+ k3 KL, entropy bonus)."""
    return ppo_loss(x.logprobs, x.old_logprobs, x.advantages, x.mask, clip_low=s.clip_low, clip_high=s.clip_high,
                    dual_clip=s.dual_clip, ref_logprobs=x.ref_logprobs, kl_coef=s.kl_coef, entropy=x.entropy,
                    entropy_coef=s.entropy_coef, aggregation=s.aggregation, constant=s.max_response_tokens,
                    weights=x.weights)


def _gspo(x: LossInputs, s: LossSettings) -> LossOutput:
    """GSPO: a clipped importance ratio per sequence, the geometric mean of its token ratios."""
    return gspo_loss(x.logprobs, x.old_logprobs, x.advantages, x.mask, clip_low=s.clip_low, clip_high=s.clip_high,
                     ref_logprobs=x.ref_logprobs, kl_coef=s.kl_coef, entropy=x.entropy,
                     entropy_coef=s.entropy_coef, aggregation=s.aggregation, weights=x.weights)


def _dapo(x: LossInputs, s: LossSettings) -> LossOutput:
    """DAPO: the PPO surrogate with clip-higher (0.2 / 0.28) and token-mean aggregation."""
    return _ppo(x, s)


def _dr_grpo(x: LossInputs, s: LossSettings) -> LossOutput:
    """Dr. GRPO: the PPO surrogate summed over tokens / the response-length constant (no std, no 1/|o|)."""
    return _ppo(x, s)


LOSSES.register("ppo")(PolicyLoss(_ppo, clip_low=0.2, clip_high=0.2, aggregation="token-mean"))
LOSSES.register("dapo")(PolicyLoss(_dapo, clip_low=0.2, clip_high=0.28, aggregation="token-mean"))
LOSSES.register("gspo")(PolicyLoss(_gspo, clip_low=3e-4, clip_high=4e-4, aggregation="token-mean"))
LOSSES.register("dr_grpo")(PolicyLoss(_dr_grpo, clip_low=0.2, clip_high=0.2, aggregation="sum-constant",
                                      requires_mean_only=True))
