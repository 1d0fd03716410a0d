"""What TSPO trains on: each video's candidate frames as features, its question, its evidence, and who answers.

Two settings share one code path:

- **fast** (unit tests, `stepgym tspo-train`'s default): frame features are a fixed random
  projection of 8×8 thumbnails (`FrameEncoder`), the question a hashed bag of words, and the
  answerer an oracle that is right whenever a chosen frame lies in the evidence span.
- **real** (the paper's): frame features come from the policy VLM's own vision tower and the
  question from the same model (`stepgym.agents.vision_features.VLMEmbedder`); the answerer is a
  frozen VLM (`policy_answerer(HFPolicy(...))`) shown the chosen frames, and its answer's
  correctness, read by the benchmark's own rule, is the reward.

    samples = samples_from_tasks(tasks, candidates=64, encoder=VLMEmbedder.from_dir(d), keep_frames=True)
    answerer = policy_answerer(HFPolicy(d, config=GenerationSettings(temperature=0, max_new_tokens=8)))
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stepgym.rewards.video import AnswerRule, answer_rule


# -- frozen features (fast setting) -----------------------------------------------------------------
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


# -- samples ------------------------------------------------------------------------------------------
@dataclass
class TSPOSample:
    """One video's candidate frames as features, the question, and where the evidence lies (when known)."""

    video: str
    features: np.ndarray  # [T, D] frozen frame features
    timestamps: np.ndarray  # [T] seconds
    question: np.ndarray  # [Q] question features
    evidence: tuple[float, float] | None
    answer: str = ""
    text: str = ""  # the question as the answerer reads it
    frames: np.ndarray | None = field(default=None, repr=False)  # [T, H, W, 3] when kept for an answerer
    options: tuple[str, ...] = ()
    source: str = "generated"  # picks the answer rule
    qid: str = ""

    @property
    def in_span(self) -> np.ndarray:
        """[T] bool: candidate inside the evidence span [start, end) (all False when it is unknown)."""
        if self.evidence is None:
            return np.zeros(len(self.timestamps), bool)
        return (self.timestamps >= self.evidence[0]) & (self.timestamps < self.evidence[1])


class TextEncoder(Protocol):
    def __call__(self, text: str) -> np.ndarray: ...


def samples_from_tasks(tasks: Sequence[Any], candidates: int = 64, encoder: Callable[[np.ndarray], np.ndarray] | None = None,
                       text_encoder: TextEncoder | None = None, keep_frames: bool = False, max_side: int | None = 128,
                       evidence: Mapping[str, tuple[float, float]] | None = None) -> list[TSPOSample]:
    """TSPO samples from VideoQA tasks: `candidates` frames read evenly and encoded once.

    `encoder` maps frames to features (default `FrameEncoder`); the question is embedded by
    `text_encoder`, else by the encoder's own `text` method when it has one (`VLMEmbedder`), else
    `hash_bow`. A task's evidence span comes from its data, or from `evidence` {task_id: span}
    (benchmarks such as Video-MME publish none); without one, only answer accuracy is measured.
    """
    from stepgym.envs.video.datasets import LETTERS
    from stepgym.envs.video.io import read_frames

    encoder = encoder or FrameEncoder()
    text_encoder = text_encoder or getattr(encoder, "text", None) or hash_bow
    evidence = evidence or {}
    out = []
    for task in tasks:
        data = task.data
        span = evidence.get(task.task_id) or data.get("evidence")
        start, end = (data.get("clip") or (None, None))
        frames, ts = read_frames(data["video"], nframes=candidates, max_side=max_side, fps=data.get("frame_fps"),
                                 start=start, end=end)
        options = tuple(str(o) for o in data.get("options", []))
        listed = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
        text = f"{task.instruction}\nOptions:\n{listed}" if options else task.instruction
        out.append(TSPOSample(str(data["video"]), encoder(frames), ts, text_encoder(text),
                              (float(span[0]), float(span[1])) if span else None, str(data.get("answer", "")),
                              text, frames if keep_frames else None, options,
                              str(data.get("source", "generated")), task.task_id))
    return out


def needle_samples(out_dir: str | Path, n: int, seed: int = 0, candidates: int = 64, duration: float = 24.0,
                   fps: float = 4.0, size: int = 64, **kwargs: Any) -> list[TSPOSample]:
    """Generate `n` needle videos (mp4 under `out_dir`), decode them and build TSPO samples."""
    from stepgym.envs.video.env import load_video_tasks
    from stepgym.envs.video.generate import write_dataset

    path = write_dataset(out_dir, n, seed, ("needle",), height=size, width=size, fps=fps, duration=duration,
                         split="train")
    return samples_from_tasks(list(load_video_tasks(path)), candidates, **kwargs)


# -- answerers ----------------------------------------------------------------------------------------
Answerer = Callable[[TSPOSample, np.ndarray], bool]


def oracle_answerer(sample: TSPOSample, chosen: np.ndarray) -> bool:
    """Correct exactly when a chosen frame lies in the evidence (needle) span."""
    return bool(sample.in_span[chosen].any())


QA_PROMPT = "Question: {text}\nYou see {n} frames at {times}.\nAnswer with the option's letter."


class PolicyAnswerer:
    """A frozen policy answering from the chosen frames; right when the benchmark's rule reads the answer.

    The policy sees a VideoQA-v0 observation made of the chosen frames (in time order, with their
    timestamps), so an `HFPolicy` builds the same Qwen-VL prompt it would in the env. `batch`
    answers many selections in one `act` call. With `cache` (right for a greedy answerer) a
    selection already answered is not asked again. `stats` counts replies and the letters read.
    """

    def __init__(self, policy: Any, rule: str | AnswerRule | None = None, *, cache: bool = True,
                 max_batch: int = 64) -> None:
        self.policy, self.rule_spec, self.max_batch = policy, rule, max_batch
        self.cache: dict[tuple, bool] | None = {} if cache else None
        self.stats: Counter[str] = Counter()

    def __call__(self, sample: TSPOSample, chosen: np.ndarray) -> bool:
        return self.batch([sample], [chosen])[0]

    def _input(self, sample: TSPOSample, chosen: np.ndarray):
        from stepgym.agents.base import AgentInput
        from stepgym.envs.video.env import QA_ACTION_DOC

        if sample.frames is None:
            raise ValueError("policy_answerer needs samples built with keep_frames=True")
        order = np.sort(chosen)
        times = sample.timestamps[order]
        text = QA_PROMPT.format(text=sample.text, n=len(order), times=", ".join(f"{t:.1f}s" for t in times))
        obs = {"text": text, "video": sample.video, "frames": sample.frames[order]}
        info = {"frame_timestamps": [float(t) for t in times]}
        return AgentInput(0, obs, info, sample.text.split("\n")[0], QA_ACTION_DOC)

    def _judge(self, sample: TSPOSample, reply: str, key: tuple) -> bool:
        rule = answer_rule(self.rule_spec, sample.source)
        options = sample.options or ("",) * 4  # rules need the option count; no options, no right letter
        # a rule that guesses (LongVideoBench) guesses the same way for the same selection
        rng = np.random.default_rng(zlib.crc32(repr(key).encode()))
        letter = rule(reply, options, rng)
        self.stats["replies"] += 1
        self.stats[f"read {letter}" if letter else "read nothing"] += 1
        return bool(sample.answer) and letter == sample.answer

    def batch(self, samples: Sequence[TSPOSample], chosen: Sequence[np.ndarray]) -> list[bool]:
        """Whether the answer is right for each (sample, chosen frames) pair."""
        keys = [(s.qid or s.video, s.text, tuple(sorted(int(i) for i in c))) for s, c in zip(samples, chosen, strict=True)]
        known = self.cache if self.cache is not None else {}
        todo = [i for i, k in enumerate(keys) if k not in known]
        todo = list({keys[i]: i for i in todo}.values())  # ask once per distinct selection
        fresh: dict[tuple, bool] = {}
        for start in range(0, len(todo), self.max_batch):
            part = todo[start:start + self.max_batch]
            actions = self.policy.act([self._input(samples[i], chosen[i]) for i in part])
            for i, act in zip(part, actions, strict=True):
                reply = act.text if isinstance(act.text, str) else str(act.text.get("answer", ""))
                fresh[keys[i]] = self._judge(samples[i], reply, keys[i])
        if self.cache is not None:
            self.cache.update(fresh)
        return [known[k] if k in known else fresh[k] for k in keys]


def policy_answerer(policy: Any, rule: str | AnswerRule | None = None, *, cache: bool = True) -> PolicyAnswerer:
    """An Answerer from any stepgym Policy (needs samples built with `keep_frames=True`); see `PolicyAnswerer`."""
    return PolicyAnswerer(policy, rule, cache=cache)
