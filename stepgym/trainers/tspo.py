"""TSPO: a temporal agent learns which frames to show the answerer, by group-relative RL.

The temporal agent scores every candidate frame of a video against the question from frozen
features, then samples k frames without replacement by Gumbel top-k. The answerer sees those
frames. The reward of a selection is answer accuracy + `temporal_weight` × the fraction of
chosen frames inside the evidence span (when the span is known); advantages are GRPO's (group =
G selections for one video) and the loss is −A · log p(selection), with log p the Plackett-Luce
probability of the ordered draw. The softmax temperature τ anneals from 0.025 to 0.01 (TSPO's
schedule). Features and answerers, fast and real, are in `stepgym.trainers.tspo_samples`.

    samples = needle_samples(out_dir, n=48, seed=0)          # generated needle videos -> features
    trainer = TSPOTrainer(TSPOConfig(k=4))
    report = trainer.fit(samples[:32], samples[32:])        # recall and accuracy before/after vs uniform

Command line: `stepgym tspo-train --videos 48 --out runs/tspo` (`stepgym.trainers.tspo_cli`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stepgym.trainers.advantages import grpo_advantages
from stepgym.trainers.tspo_samples import (
    Answerer,
    FrameEncoder,
    PolicyAnswerer,
    TSPOSample,
    hash_bow,
    needle_samples,
    oracle_answerer,
    policy_answerer,
    samples_from_tasks,
)

__all__ = [
    "TSPOConfig", "TemporalAgent", "TSPOTrainer", "TSPOReport", "gumbel_topk", "plackett_luce_logprob",
    "uniform_choice", "Answerer", "FrameEncoder", "PolicyAnswerer", "TSPOSample", "hash_bow", "needle_samples",
    "oracle_answerer", "policy_answerer", "samples_from_tasks",
]


@dataclass
class TSPOConfig:
    """TSPO settings (defaults after the paper where it gives them: τ 0.025 → 0.01, lr 5e-4, G = 8)."""

    k: int = 4
    """Frames the temporal agent selects per video."""
    group_size: int = 8
    """G: selections sampled per video; advantages are normalised within them."""
    videos_per_iteration: int = 8
    """Videos per update (each contributes G selections)."""
    iterations: int = 150
    """Updates."""
    lr: float = 5e-4
    """Adam learning rate."""
    tau_start: float = 0.025
    """Softmax temperature over cosine scores at the first update ..."""
    tau_end: float = 0.01
    """... annealed linearly to this at the last."""
    temporal_weight: float = 1.0
    """Weight of the temporal reward (fraction of chosen frames in the evidence span)."""
    hidden: int = 64
    """Width of the agent's frame and question towers."""
    eval_draws: int = 4
    """Sampled selections per video when measuring recall and accuracy."""
    seed: int = 0
    """Seeds the agent's initialisation and every Gumbel draw."""

    def __post_init__(self) -> None:
        if self.k < 1 or self.group_size < 2:
            raise ValueError(f"need k >= 1 and group_size >= 2, got k={self.k}, group_size={self.group_size}")
        if not 0 < self.tau_end <= self.tau_start:
            raise ValueError(f"need 0 < tau_end <= tau_start, got {self.tau_start}, {self.tau_end}")


# -- the temporal agent -------------------------------------------------------------------------------
class TemporalAgent(nn.Module):
    """Scores candidate frames against the question: cosine of a frame embedding and a question embedding.

    A frame's input is its feature and its difference from the video's mean feature (what is
    unusual in this video). The frame tower's last layer starts at zero, so every frame starts
    with the same score: the untrained agent samples uniformly at random.
    """

    def __init__(self, frame_dim: int, question_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.frame = nn.Sequential(nn.Linear(2 * frame_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.frame_bias = nn.Parameter(torch.randn(hidden) / hidden**0.5)
        self.question = nn.Linear(question_dim, hidden)
        nn.init.zeros_(self.frame[-1].weight)
        nn.init.zeros_(self.frame[-1].bias)

    def forward(self, features: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        """Cosine scores [N, T] for frame features [N, T, D] and question features [N, Q]."""
        x = torch.cat([features, features - features.mean(dim=1, keepdim=True)], dim=-1)
        f = self.frame(x) + self.frame_bias  # [N, T, H]
        q = self.question(question)[:, None, :]  # [N, 1, H]
        return torch.cosine_similarity(f, q.expand_as(f), dim=-1)


def gumbel_topk(logits: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """[N, k] indices: k draws without replacement from softmax(logits [N, T]), in draw order."""
    u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype).clamp_(1e-10, 1 - 1e-10)
    return torch.topk(logits.detach() - torch.log(-torch.log(u)), k, dim=-1).indices


def plackett_luce_logprob(logits: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """[N] log-probability of drawing `chosen` ([N, k], in order) without replacement from softmax(logits [N, T]).

    log p = Σ_j [ logit(c_j) − logsumexp(logits of the frames not yet drawn) ].
    """
    mask = torch.zeros_like(logits, dtype=torch.bool)
    total = torch.zeros(logits.shape[0], dtype=logits.dtype)
    for j in range(chosen.shape[1]):
        c = chosen[:, j : j + 1]
        remaining = logits.masked_fill(mask, float("-inf"))
        total = total + logits.gather(1, c).squeeze(1) - torch.logsumexp(remaining, dim=1)
        mask = mask.scatter(1, c, True)
    return total


def uniform_choice(num_candidates: int, k: int) -> np.ndarray:
    """[k] evenly spread candidate indices (centres of k equal slices)."""
    return np.floor((np.arange(k) + 0.5) * num_candidates / k).astype(np.int64)


# -- training -----------------------------------------------------------------------------------------
@dataclass
class TSPOReport:
    """Recall (share of videos where a chosen frame is in the evidence span, over videos with a known
    span; None without any) and answer accuracy of each selector, at the same k frames."""

    uniform: float | None
    before: float | None
    after: float | None
    after_greedy: float | None
    accuracy: dict[str, float]  # uniform / before / after / after_greedy
    history: list[dict[str, float]]
    config: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class TSPOTrainer:
    """Trains a `TemporalAgent` on TSPO samples with group-relative advantages."""

    def __init__(self, config: TSPOConfig | None = None, answerer: Answerer = oracle_answerer) -> None:
        self.config = config or TSPOConfig()
        self.answerer = answerer
        self.agent: TemporalAgent | None = None
        self.generator = torch.Generator().manual_seed(self.config.seed)

    def _build(self, sample: TSPOSample) -> None:
        # a private RNG stream: seeding the global one would change the caller's random state
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            self.agent = TemporalAgent(sample.features.shape[1], sample.question.shape[0], self.config.hidden)
        self.optimizer = torch.optim.Adam(self.agent.parameters(), lr=self.config.lr)

    def tau(self, iteration: int) -> float:
        """Temperature at `iteration` (linear from tau_start to tau_end)."""
        c = self.config
        frac = iteration / max(1, c.iterations - 1)
        return c.tau_start + (c.tau_end - c.tau_start) * min(1.0, frac)

    @staticmethod
    def _batch(samples: Sequence[TSPOSample]) -> tuple[torch.Tensor, torch.Tensor]:
        t = {s.features.shape[0] for s in samples}
        if len(t) != 1:
            raise ValueError(f"samples in a batch need the same number of candidate frames, got {sorted(t)}")
        feats = torch.from_numpy(np.stack([s.features for s in samples]))
        quest = torch.from_numpy(np.stack([s.question for s in samples]))
        return feats, quest

    def correct(self, samples: Sequence[TSPOSample], chosen: Sequence[np.ndarray]) -> list[bool]:
        """The answerer's verdict on each (sample, selection): in one batch when it can (`PolicyAnswerer`)."""
        if hasattr(self.answerer, "batch"):
            return list(self.answerer.batch(samples, chosen))
        return [bool(self.answerer(s, c)) for s, c in zip(samples, chosen, strict=True)]

    def reward(self, sample: TSPOSample, chosen: np.ndarray, correct: bool) -> float:
        """Answer accuracy + temporal_weight × the fraction of chosen frames in the span (0 when unknown)."""
        return float(correct) + self.config.temporal_weight * float(sample.in_span[chosen].mean())

    def rewards(self, sample: TSPOSample, chosen: np.ndarray) -> tuple[float, bool]:
        """(reward, answer correct) of one selection."""
        correct = self.correct([sample], [chosen])[0]
        return self.reward(sample, chosen, correct), correct

    def select(self, samples: Sequence[TSPOSample], tau: float | None = None, greedy: bool = False) -> np.ndarray:
        """[N, k] chosen candidate indices per sample (Gumbel top-k sampling, or the top-k scores)."""
        if self.agent is None:
            self._build(samples[0])
        with torch.no_grad():
            feats, quest = self._batch(samples)
            logits = self.agent(feats, quest) / (tau or self.config.tau_end)
            if greedy:
                return torch.topk(logits, self.config.k, dim=-1).indices.numpy()
            return gumbel_topk(logits, self.config.k, self.generator).numpy()

    def evaluate(self, samples: Sequence[TSPOSample], selector: str) -> tuple[float | None, float]:
        """(recall, answer accuracy) of `selector`: "uniform", "sampled" (`eval_draws` draws) or "greedy"."""
        if selector == "uniform":
            draws = [np.stack([uniform_choice(len(s.timestamps), self.config.k) for s in samples])]
        elif selector in ("sampled", "greedy"):
            n = 1 if selector == "greedy" else self.config.eval_draws
            draws = [self.select(samples, greedy=selector == "greedy") for _ in range(n)]
        else:
            raise ValueError(f"selector must be 'uniform', 'sampled' or 'greedy', got {selector!r}")
        known = [i for i, s in enumerate(samples) if s.evidence is not None]
        hits = [oracle_answerer(samples[i], d[i]) for d in draws for i in known]
        right = [ok for d in draws for ok in self.correct(samples, list(d))]
        return (float(np.mean(hits)) if hits else None), float(np.mean(right))

    def step(self, batch: Sequence[TSPOSample], iteration: int) -> dict[str, float]:
        """One update on `batch`: G selections per video, rewards, GRPO advantages, −A·log p."""
        c = self.config
        tau = self.tau(iteration)
        feats, quest = self._batch(batch)  # [B, T, D], [B, Q]
        # score each video once; its G selections share the scores (and the gradient through them)
        logits = (self.agent(feats, quest) / tau).repeat_interleave(c.group_size, dim=0)  # [B*G, T]
        chosen = gumbel_topk(logits, c.k, self.generator)  # [B*G, k]
        owners = [s for s in batch for _ in range(c.group_size)]
        picks = list(chosen.numpy())
        correct = self.correct(owners, picks)
        reward = np.array([self.reward(s, ch, ok) for s, ch, ok in zip(owners, picks, correct, strict=True)])
        groups = np.repeat(np.arange(len(batch)), c.group_size)
        adv = torch.from_numpy(grpo_advantages(reward, groups)).float()
        loss = -(adv * plackett_luce_logprob(logits, chosen)).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"iteration": iteration, "tau": tau, "loss": loss.item(), "reward": float(reward.mean()),
                "accuracy": float(np.mean(correct))}

    def fit(self, train: Sequence[TSPOSample], evaluate: Sequence[TSPOSample],
            log: Callable[[dict[str, float]], None] | None = None) -> TSPOReport:
        """Train on `train`; returns recall and accuracy on `evaluate` before and after, vs uniform sampling."""
        c = self.config
        if not train or not evaluate:
            raise ValueError(f"need training and evaluation samples, got {len(train)} and {len(evaluate)}")
        self._build(train[0])
        uniform, uniform_acc = self.evaluate(evaluate, "uniform")
        before, before_acc = self.evaluate(evaluate, "sampled")
        rng = np.random.default_rng(c.seed)
        history = []
        for it in range(c.iterations):
            pick = rng.choice(len(train), size=min(c.videos_per_iteration, len(train)), replace=False)
            stats = self.step([train[int(i)] for i in pick], it)
            history.append(stats)
            if log and (it % 25 == 0 or it == c.iterations - 1):
                log(stats)
        after, after_acc = self.evaluate(evaluate, "sampled")
        greedy, greedy_acc = self.evaluate(evaluate, "greedy")
        accuracy = {"uniform": uniform_acc, "before": before_acc, "after": after_acc, "after_greedy": greedy_acc}
        return TSPOReport(uniform, before, after, greedy, accuracy, history, asdict(c))

    def save(self, path: str | Path) -> Path:
        """Write the agent's weights and config (torch.save); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        torch.save({"state_dict": self.agent.state_dict(), "config": asdict(self.config)}, tmp)
        tmp.replace(path)  # never a half-written checkpoint under the final name
        return path
