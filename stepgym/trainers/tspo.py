"""TSPO: a temporal agent learns which frames to show the answerer, by group-relative RL.

The temporal agent scores every candidate frame of a video against the question from frozen
features (a fixed random projection of downsampled frames; a hashed bag of words of the question),
then samples k frames without replacement by Gumbel top-k. The answerer sees those frames. The
reward of a selection is answer accuracy + `temporal_weight` × the fraction of chosen frames inside
the evidence span; advantages are GRPO's (group = G selections for one video) and the loss is
−A · log p(selection), with log p the Plackett-Luce probability of the ordered draw. The
softmax temperature τ anneals from 0.025 to 0.01 (TSPO's schedule).

    samples = needle_samples(out_dir, n=48, seed=0)          # generated needle videos -> features
    trainer = TSPOTrainer(TSPOConfig(k=4))
    report = trainer.fit(samples[:32], samples[32:])        # recall before/after vs uniform

Command line: `stepgym tspo-train --videos 48 --out runs/tspo` (or `python -m stepgym.trainers.tspo`).
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from stepgym.trainers.advantages import grpo_advantages


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
    """Sampled selections per video when measuring recall."""
    seed: int = 0
    """Seeds the agent's initialisation and every Gumbel draw."""

    def __post_init__(self) -> None:
        if self.k < 1 or self.group_size < 2:
            raise ValueError(f"need k >= 1 and group_size >= 2, got k={self.k}, group_size={self.group_size}")
        if not 0 < self.tau_end <= self.tau_start:
            raise ValueError(f"need 0 < tau_end <= tau_start, got {self.tau_start}, {self.tau_end}")


# -- frozen features --------------------------------------------------------------------------------
class FrameEncoder:
    """Frozen frame features: frames averaged down to a grid×grid RGB thumbnail, then a fixed
    random Gaussian projection (seeded), so it needs no download and never trains."""

    def __init__(self, dim: int = 96, grid: int = 8, seed: int = 1234) -> None:
        self.dim, self.grid = dim, grid
        rng = np.random.default_rng(seed)
        self.proj = (rng.standard_normal((grid * grid * 3, dim)) / np.sqrt(grid * grid * 3)).astype(np.float32)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """[T, dim] float32 features of [T, H, W, 3] uint8 frames."""
        t, h, w, _ = frames.shape
        g = self.grid
        hh, ww = (h // g) * g, (w // g) * g
        thumbs = frames[:, :hh, :ww].reshape(t, g, hh // g, g, ww // g, 3).mean(axis=(2, 4)) / 255.0 - 0.5
        return (thumbs.reshape(t, -1).astype(np.float32) @ self.proj) * 2.0


def hash_bow(text: str, dim: int = 256) -> np.ndarray:
    """[dim] float32 signed hashed bag of words of `text` (crc32 of each lower-cased word), L2-normalised."""
    vec = np.zeros(dim, np.float32)
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        h = zlib.crc32(word.encode())
        vec[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    n = np.linalg.norm(vec)
    return vec / n if n > 0 else vec


@dataclass
class TSPOSample:
    """One video's candidate frames as features, the question, and where the evidence lies."""

    video: str
    features: np.ndarray  # [T, D] frozen frame features
    timestamps: np.ndarray  # [T] seconds
    question: np.ndarray  # [Q] question features
    evidence: tuple[float, float]
    answer: str = ""
    text: str = ""
    frames: np.ndarray | None = field(default=None, repr=False)  # [T, H, W, 3] when kept for an answerer

    @property
    def in_span(self) -> np.ndarray:
        """[T] bool: candidate inside the evidence span [start, end)."""
        return (self.timestamps >= self.evidence[0]) & (self.timestamps < self.evidence[1])


def samples_from_tasks(tasks: Sequence[Any], candidates: int = 64, encoder: FrameEncoder | None = None,
                       keep_frames: bool = False, max_side: int | None = 128) -> list[TSPOSample]:
    """TSPO samples from VideoQA tasks (each needs `video` and `evidence`): `candidates` frames read
    evenly (decord) and encoded once."""
    from stepgym.envs.video.datasets import LETTERS
    from stepgym.envs.video.io import read_frames

    encoder = encoder or FrameEncoder()
    out = []
    for task in tasks:
        data = task.data
        if not data.get("evidence"):
            raise ValueError(f"TSPO needs an evidence span; task {task.task_id!r} has none")
        frames, ts = read_frames(data["video"], nframes=candidates, max_side=max_side)
        options = " ".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(data.get("options", [])))
        text = f"{task.instruction} {options}"
        out.append(TSPOSample(str(data["video"]), encoder(frames), ts, hash_bow(text),
                              (float(data["evidence"][0]), float(data["evidence"][1])), str(data.get("answer", "")),
                              text, frames if keep_frames else None))
    return out


def needle_samples(out_dir: str | Path, n: int, seed: int = 0, candidates: int = 64, duration: float = 24.0,
                   fps: float = 4.0, size: int = 64, **kwargs) -> list[TSPOSample]:
    """Generate `n` needle videos (mp4 under `out_dir`), decode them and build TSPO samples."""
    from stepgym.envs.video.env import load_video_tasks
    from stepgym.envs.video.generate import write_dataset

    path = write_dataset(out_dir, n, seed, ("needle",), height=size, width=size, fps=fps, duration=duration,
                         split="train")
    return samples_from_tasks(list(load_video_tasks(path)), candidates, **kwargs)


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


# -- answerers ----------------------------------------------------------------------------------------
Answerer = Callable[[TSPOSample, np.ndarray], bool]


def oracle_answerer(sample: TSPOSample, chosen: np.ndarray) -> bool:
    """Correct exactly when a chosen frame lies in the evidence (needle) span."""
    return bool(sample.in_span[chosen].any())


def policy_answerer(policy: Any) -> Answerer:
    """An Answerer from any stepgym Policy: it sees a VideoQA-style observation of the chosen frames
    (needs samples built with `keep_frames=True`) and is right when its letter is the answer."""
    from stepgym.agents.base import AgentInput
    from stepgym.rewards.video import extract_answer_letter

    def answer(sample: TSPOSample, chosen: np.ndarray) -> bool:
        if sample.frames is None:
            raise ValueError("policy_answerer needs samples built with keep_frames=True")
        order = np.sort(chosen)
        obs = {"text": f"Question: {sample.text}\nAnswer with the option's letter.", "video": sample.video,
               "frames": sample.frames[order]}
        info = {"frame_timestamps": sample.timestamps[order].tolist()}
        act = policy.act([AgentInput(0, obs, info, sample.text, "Answer with an option letter.")])[0]
        text = act.text if isinstance(act.text, str) else str(act.text.get("answer", ""))
        return extract_answer_letter(text) == sample.answer

    return answer


# -- training -----------------------------------------------------------------------------------------
@dataclass
class RecallReport:
    """Needle recall (share of videos where a chosen frame is in the evidence span) of each selector."""

    uniform: float
    before: float
    after: float
    after_greedy: float
    history: list[dict[str, float]]
    config: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def uniform_choice(num_candidates: int, k: int) -> np.ndarray:
    """[k] evenly spread candidate indices (centres of k equal slices)."""
    return np.floor((np.arange(k) + 0.5) * num_candidates / k).astype(np.int64)


class TSPOTrainer:
    """Trains a `TemporalAgent` on TSPO samples with group-relative advantages."""

    def __init__(self, config: TSPOConfig | None = None, answerer: Answerer = oracle_answerer) -> None:
        self.config = config or TSPOConfig()
        self.answerer = answerer
        self.agent: TemporalAgent | None = None
        self.generator = torch.Generator().manual_seed(self.config.seed)

    def _build(self, sample: TSPOSample) -> None:
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

    def rewards(self, sample: TSPOSample, chosen: np.ndarray) -> tuple[float, bool]:
        """(answer accuracy + temporal_weight × fraction of chosen frames in the span, answer correct)."""
        correct = self.answerer(sample, chosen)
        return float(correct) + self.config.temporal_weight * float(sample.in_span[chosen].mean()), correct

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

    def recall(self, samples: Sequence[TSPOSample], greedy: bool = False, tau: float | None = None) -> float:
        """Share of samples (averaged over `eval_draws` sampled selections) whose selection hits the span."""
        draws = 1 if greedy else self.config.eval_draws
        hits = [oracle_answerer(s, c) for _ in range(draws) for s, c in zip(samples, self.select(samples, tau, greedy), strict=True)]
        return float(np.mean(hits))

    def step(self, batch: Sequence[TSPOSample], iteration: int) -> dict[str, float]:
        """One update on `batch`: G selections per video, rewards, GRPO advantages, −A·log p."""
        c = self.config
        tau = self.tau(iteration)
        feats, quest = self._batch(batch)  # [B, T, D], [B, Q]
        # score each video once; its G selections share the scores (and the gradient through them)
        logits = (self.agent(feats, quest) / tau).repeat_interleave(c.group_size, dim=0)  # [B*G, T]
        chosen = gumbel_topk(logits, c.k, self.generator)  # [B*G, k]
        owners = [s for s in batch for _ in range(c.group_size)]
        scored = [self.rewards(s, ch) for s, ch in zip(owners, chosen.numpy(), strict=True)]
        reward = np.array([r for r, _ in scored])
        groups = np.repeat(np.arange(len(batch)), c.group_size)
        adv = torch.from_numpy(grpo_advantages(reward, groups)).float()
        loss = -(adv * plackett_luce_logprob(logits, chosen)).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"iteration": iteration, "tau": tau, "loss": loss.item(), "reward": float(reward.mean()),
                "accuracy": float(np.mean([ok for _, ok in scored]))}

    def fit(self, train: Sequence[TSPOSample], evaluate: Sequence[TSPOSample],
            log: Callable[[dict[str, float]], None] | None = None) -> RecallReport:
        """Train on `train`; returns needle recall on `evaluate` before and after, vs uniform sampling."""
        c = self.config
        if not train or not evaluate:
            raise ValueError(f"need training and evaluation samples, got {len(train)} and {len(evaluate)}")
        self._build(train[0])
        uniform = float(np.mean([oracle_answerer(s, uniform_choice(len(s.timestamps), c.k)) for s in evaluate]))
        before = self.recall(evaluate)
        rng = np.random.default_rng(c.seed)
        history = []
        for it in range(c.iterations):
            pick = rng.choice(len(train), size=min(c.videos_per_iteration, len(train)), replace=False)
            stats = self.step([train[int(i)] for i in pick], it)
            history.append(stats)
            if log and (it % 25 == 0 or it == c.iterations - 1):
                log(stats)
        return RecallReport(uniform, before, self.recall(evaluate), self.recall(evaluate, greedy=True),
                            history, asdict(c))

    def save(self, path: str | Path) -> Path:
        """Write the agent's weights and config (torch.save); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"state_dict": self.agent.state_dict(), "config": asdict(self.config)}, path)
        return path


# -- command line -------------------------------------------------------------------------------------
def run_cli(args: argparse.Namespace, print_fn: Callable[[str], None] = print) -> RecallReport:
    """Build samples, train, print recall before/after vs uniform; writes agent.pt and metrics.json."""
    # the agent is tiny: extra intra-op threads only add synchronisation (10x slower on a busy CPU)
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.data:
        from stepgym.envs.video.env import load_video_tasks

        samples = samples_from_tasks(list(load_video_tasks(args.data)), args.candidates)
    else:
        samples = needle_samples(out / "videos", args.videos, args.seed, args.candidates, args.duration)
    n_eval = max(1, int(round(len(samples) * args.eval_fraction)))
    if len(samples) - n_eval < 1:
        raise SystemExit(f"need at least 2 videos to train and evaluate, got {len(samples)}")
    config = TSPOConfig(k=args.k, iterations=args.iterations, group_size=args.group_size, lr=args.lr,
                        seed=args.seed)
    trainer = TSPOTrainer(config)

    def log(s: dict[str, float]) -> None:
        print_fn(f"iter {int(s['iteration']):4d}  tau {s['tau']:.4f}  reward {s['reward']:.3f}  "
                 f"accuracy {s['accuracy']:.3f}  loss {s['loss']:+.2e}")

    report = trainer.fit(samples[n_eval:], samples[:n_eval], log=log)
    trainer.save(out / "agent.pt")
    (out / "metrics.json").write_text(json.dumps({k: v for k, v in report.as_dict().items() if k != "history"}, indent=2))
    print_fn(f"needle recall@{args.k} on {n_eval} held-out videos: uniform {report.uniform:.3f} | "
             f"TSPO before {report.before:.3f} -> after {report.after:.3f} (greedy {report.after_greedy:.3f})")
    print_fn(f"wrote {out / 'agent.pt'} and {out / 'metrics.json'}")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    from stepgym.trainers.tspo_cli import add_arguments

    p = argparse.ArgumentParser(prog="python -m stepgym.trainers.tspo", description=__doc__.splitlines()[0])
    add_arguments(p)
    run_cli(p.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
