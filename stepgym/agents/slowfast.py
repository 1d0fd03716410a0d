"""Slow-Fast video encoding (Keye-VL 1.5): key frames at high resolution, similar frames cheap.

How frames are split (as in Keye's released code, which differs from the paper where noted):

1. The first frame is slow. Every frame is shrunk to at most 256 tokens, converted to HSV and cut
   into 28×28 patches.
2. A patch is similar to the same patch of the latest slow frame when their cosine exceeds 0.7
   (patches black in both frames are ignored). A frame's score is its fraction of similar
   patches; a score at or above `similarity_threshold` (0.9 in the code, 95% in the paper)
   makes it fast, otherwise it is a new slow frame.
3. A slow frame gets t tokens, a fast one max(⌊0.3 t⌋, 48). Binary search finds the largest
   t in [48, 768] with n_slow·t + n_fast·max(⌊0.3 t⌋, 48) ≤ budget. If even t = 48 does not fit,
   fewer candidate frames are kept (evenly thinned) until it does.
4. Every frame keeps its timestamp, which the prompt states before the frame.

One token is one 28×28 patch of the resized frame (Qwen2-VL / Qwen2.5-VL merge 2×2 patches of
14 px), so a frame of t tokens is resized to at most t 28×28 cells.

    video = encode_video("clip.mp4", SlowFastConfig(token_budget=4096))
    messages = qwen_messages(video, "What happens after the cut?")
    images, videos = qwen_vl_utils.process_vision_info(messages)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PATCH = 28


@dataclass
class SlowFastConfig:
    """Parameters of Slow-Fast encoding (defaults: Keye-VL 1.5's released code)."""

    token_budget: int = 8192
    """Total visual tokens for the whole video."""
    similarity_threshold: float = 0.9
    """A frame is fast when at least this fraction of its patches match the latest slow frame (paper: 0.95)."""
    patch_cosine: float = 0.7
    """Two patches match when the cosine of their HSV vectors exceeds this."""
    compare_max_tokens: int = 256
    """Frames are shrunk to at most this many 28×28 patches before comparing."""
    fast_ratio: float = 0.3
    """A fast frame gets this fraction of a slow frame's tokens ..."""
    min_fast_tokens: int = 48
    """... but at least this many."""
    min_slow_tokens: int = 48
    """Lower end of the binary search over slow tokens per frame."""
    max_slow_tokens: int = 768
    """Upper end of the binary search over slow tokens per frame."""
    sample_fps: float = 2.0
    """Candidate frames are read at this rate ..."""
    max_frames: int = 1024
    """... up to this many (evenly thinned beyond)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.similarity_threshold <= 1.0:
            raise ValueError(f"similarity_threshold must be in (0, 1], got {self.similarity_threshold!r}")
        if not -1.0 <= self.patch_cosine < 1.0:
            raise ValueError(f"patch_cosine must be in [-1, 1), got {self.patch_cosine!r}")
        if not 1 <= self.min_slow_tokens <= self.max_slow_tokens:
            raise ValueError(f"need 1 <= min_slow_tokens <= max_slow_tokens, got "
                             f"{self.min_slow_tokens!r}, {self.max_slow_tokens!r}")
        if self.token_budget < self.min_slow_tokens:
            raise ValueError(f"token_budget {self.token_budget!r} cannot hold one slow frame "
                             f"(min_slow_tokens={self.min_slow_tokens})")
        if not 0.0 < self.fast_ratio <= 1.0:
            raise ValueError(f"fast_ratio must be in (0, 1], got {self.fast_ratio!r}")

    def fast_tokens(self, slow_tokens: int) -> int:
        """Tokens of a fast frame when slow frames get `slow_tokens`: max(⌊ratio·t⌋, min_fast_tokens)."""
        return max(int(math.floor(self.fast_ratio * slow_tokens)), self.min_fast_tokens)


# -- sizes -------------------------------------------------------------------------------------------
def frame_size_for_tokens(height: int, width: int, tokens: int, patch: int = PATCH) -> tuple[int, int]:
    """(h, w), multiples of `patch`, aspect kept, with (h/patch)·(w/patch) ≤ `tokens` and as large as that allows."""
    if tokens < 1 or height < 1 or width < 1:
        raise ValueError(f"need positive sizes and tokens, got {height}x{width}, tokens={tokens}")
    scale = math.sqrt(tokens * patch * patch / (height * width))
    hb = max(1, int(math.floor(height * scale / patch)))
    wb = max(1, int(math.floor(width * scale / patch)))
    while hb * wb > tokens:  # only when one side was clamped to one patch
        if hb >= wb:
            hb -= 1
        else:
            wb -= 1
    return hb * patch, wb * patch


def _resize(frame: np.ndarray, height: int, width: int, mode: str = "RGB"):
    from PIL import Image

    img = Image.fromarray(frame)
    if img.size != (width, height):
        img = img.resize((width, height), Image.BICUBIC)
    return img.convert(mode) if mode != "RGB" else img


# -- similarity ---------------------------------------------------------------------------------------
def patch_features(frames: np.ndarray, config: SlowFastConfig | None = None) -> np.ndarray:
    """[T, P, 28·28·3] float32 HSV patch vectors of frames shrunk to ≤ `compare_max_tokens` patches."""
    cfg = config or SlowFastConfig()
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be a [T, H, W, 3] uint8 array, got {frames.shape} {frames.dtype}")
    t, h, w, _ = frames.shape
    native = max(1, (h // PATCH) * (w // PATCH))  # shrink only: never invent detail
    sh, sw = frame_size_for_tokens(h, w, min(cfg.compare_max_tokens, native))
    out = np.empty((t, (sh // PATCH) * (sw // PATCH), PATCH * PATCH * 3), np.float32)
    for i, frame in enumerate(frames):
        hsv = np.asarray(_resize(frame, sh, sw, "HSV"), dtype=np.float32)
        out[i] = (hsv.reshape(sh // PATCH, PATCH, sw // PATCH, PATCH, 3)
                  .transpose(0, 2, 1, 3, 4).reshape(-1, PATCH * PATCH * 3))
    return out


def frame_similarity(a: np.ndarray, b: np.ndarray, patch_cosine: float = 0.7) -> float:
    """Fraction of patches of `a` and `b` ([P, D] each) whose cosine exceeds `patch_cosine`.

    Patches all-black in both frames are ignored (their cosine is undefined); a patch black in
    only one frame counts as different. 1.0 when every patch is ignored.
    """
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_black = (na == 0) & (nb == 0)
    denom = np.where((na > 0) & (nb > 0), na * nb, 1.0)
    cos = np.einsum("pd,pd->p", a, b) / denom
    similar = (cos > patch_cosine) & (na > 0) & (nb > 0)
    considered = int((~both_black).sum())
    return 1.0 if considered == 0 else float(similar[~both_black].sum() / considered)


def assign_slow_fast(features: np.ndarray, config: SlowFastConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(is_slow [T] bool, score [T]): each frame vs the latest slow frame; the first frame is slow (score 0)."""
    cfg = config or SlowFastConfig()
    n = len(features)
    is_slow = np.zeros(n, bool)
    scores = np.zeros(n)
    ref = 0
    for i in range(n):
        if i == 0:
            is_slow[0] = True
            continue
        scores[i] = frame_similarity(features[i], features[ref], cfg.patch_cosine)
        if scores[i] < cfg.similarity_threshold:
            is_slow[i] = True
            ref = i
    return is_slow, scores


def fit_slow_tokens(n_slow: int, n_fast: int, config: SlowFastConfig | None = None) -> int | None:
    """Largest t in [min_slow_tokens, max_slow_tokens] with n_slow·t + n_fast·fast(t) ≤ budget; None if none fits."""
    cfg = config or SlowFastConfig()

    def cost(t: int) -> int:
        return n_slow * t + n_fast * cfg.fast_tokens(t)

    lo, hi = cfg.min_slow_tokens, cfg.max_slow_tokens
    if cost(lo) > cfg.token_budget:
        return None
    while lo < hi:  # cost is non-decreasing in t
        mid = (lo + hi + 1) // 2
        if cost(mid) <= cfg.token_budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


# -- the plan -----------------------------------------------------------------------------------------
@dataclass
class SlowFastPlan:
    """Which candidate frames to keep, which are slow, and each one's size and token count."""

    indices: np.ndarray  # [F] positions in the candidate list
    timestamps: np.ndarray  # [F] seconds
    is_slow: np.ndarray  # [F] bool
    scores: np.ndarray  # [F] similarity to the latest slow frame (0 for slow frames' first)
    slow_tokens: int
    fast_tokens: int
    sizes: list[tuple[int, int]]  # [F] (h, w) each frame is resized to for the model
    config: SlowFastConfig = field(repr=False, default_factory=SlowFastConfig)

    @property
    def num_frames(self) -> int:
        return len(self.indices)

    @property
    def planned_tokens(self) -> int:
        """n_slow·t + n_fast·fast(t): what the budget check counts."""
        n_slow = int(self.is_slow.sum())
        return n_slow * self.slow_tokens + (self.num_frames - n_slow) * self.fast_tokens

    @property
    def frame_tokens(self) -> list[int]:
        """Tokens of each frame at its resized size (≤ its allotment)."""
        return [(h // PATCH) * (w // PATCH) for h, w in self.sizes]

    @property
    def total_tokens(self) -> int:
        return int(sum(self.frame_tokens))

    @property
    def kinds(self) -> list[str]:
        return ["slow" if s else "fast" for s in self.is_slow]


def _thin(n: int, keep: int) -> np.ndarray:
    """`keep` of range(n), evenly spread (centres of equal slices)."""
    return np.floor((np.arange(keep) + 0.5) * n / keep).astype(np.int64)


def plan_slowfast(frames: np.ndarray, timestamps: np.ndarray, config: SlowFastConfig | None = None,
                  features: np.ndarray | None = None) -> SlowFastPlan:
    """Slow/fast split and token allotment of candidate `frames` ([T,H,W,3] uint8) within the budget."""
    cfg = config or SlowFastConfig()
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if len(frames) == 0 or len(frames) != len(timestamps):
        raise ValueError(f"need one timestamp per frame and at least one frame, got {len(frames)} frames, "
                         f"{len(timestamps)} timestamps")
    feats = patch_features(frames, cfg) if features is None else features

    def attempt(keep: int):
        idx = _thin(len(frames), keep) if keep < len(frames) else np.arange(len(frames))
        is_slow, scores = assign_slow_fast(feats[idx], cfg)
        t = fit_slow_tokens(int(is_slow.sum()), int((~is_slow).sum()), cfg)
        return idx, is_slow, scores, t

    keep = len(frames)
    idx, is_slow, scores, t = attempt(keep)
    if t is None:
        # binary search over how many candidates to keep (fitting is monotone up to the slow/fast
        # split changing with the thinning; the final linear step-down fixes any overshoot)
        lo, hi = 1, keep - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if attempt(mid)[3] is not None:
                lo = mid
            else:
                hi = mid - 1
        keep = lo
        idx, is_slow, scores, t = attempt(keep)
        while t is None and keep > 1:
            keep -= 1
            idx, is_slow, scores, t = attempt(keep)
        if t is None:
            raise ValueError(f"token_budget {cfg.token_budget} cannot hold even one frame")
    fast_t = cfg.fast_tokens(t)
    h, w = frames.shape[1:3]
    slow_size, fast_size = frame_size_for_tokens(h, w, t), frame_size_for_tokens(h, w, fast_t)
    sizes = [slow_size if s else fast_size for s in is_slow]
    return SlowFastPlan(idx, timestamps[idx], is_slow, scores, t, fast_t, sizes, cfg)


def uniform_frame_count(token_budget: int, tokens_per_frame: int) -> int:
    """Frames uniform sampling fits in `token_budget` when every frame gets `tokens_per_frame`."""
    return max(0, token_budget // max(1, tokens_per_frame))


# -- whole videos and model inputs --------------------------------------------------------------------
@dataclass
class SlowFastVideo:
    """A video encoded Slow-Fast: the kept frames (decoded size), their timestamps and the plan."""

    path: str | None
    frames: np.ndarray  # [F, H, W, 3] uint8 at decoded size
    plan: SlowFastPlan

    @property
    def timestamps(self) -> np.ndarray:
        return self.plan.timestamps

    def resized(self) -> list[np.ndarray]:
        """Each frame at the size the model sees (slow frames large, fast frames small)."""
        return [np.asarray(_resize(f, h, w)) for f, (h, w) in zip(self.frames, self.plan.sizes, strict=True)]


def encode_frames(frames: np.ndarray, timestamps: np.ndarray, config: SlowFastConfig | None = None,
                  path: str | None = None) -> SlowFastVideo:
    """Slow-Fast encoding of already-decoded candidate frames."""
    plan = plan_slowfast(frames, timestamps, config)
    return SlowFastVideo(path, frames[plan.indices], plan)


def encode_video(path: str | os.PathLike, config: SlowFastConfig | None = None, *, backend: str = "auto",
                 max_side: int | None = None, start: float | None = None,
                 end: float | None = None) -> SlowFastVideo:
    """Slow-Fast encoding of a file: candidates read at `sample_fps` (≤ `max_frames`), then planned."""
    from stepgym.envs.video.io import open_video

    cfg = config or SlowFastConfig()
    with open_video(path, backend, max_side) as reader:
        frames, ts, _ = reader.sample(sample_fps=cfg.sample_fps, max_frames=cfg.max_frames, start=start, end=end)
    return encode_frames(frames, ts, cfg, str(path))


def timestamp_text(seconds: float) -> str:
    """How a frame's time is written in the prompt, e.g. '<12.5s>'."""
    return f"<{seconds:.1f}s>"


def qwen_messages(video: SlowFastVideo, question: str, system: str | None = None) -> list[dict[str, Any]]:
    """Chat messages in the Qwen-VL format: each frame an image at its Slow/Fast size, after its timestamp.

    `qwen_vl_utils.process_vision_info(messages)` returns the frames at exactly `plan.sizes`
    (each image carries `resized_height` / `resized_width`, multiples of 28).
    """
    from PIL import Image

    content: list[dict[str, Any]] = []
    for frame, ts, (h, w) in zip(video.frames, video.timestamps, video.plan.sizes, strict=True):
        content.append({"type": "text", "text": timestamp_text(float(ts))})
        content.append({"type": "image", "image": Image.fromarray(frame), "resized_height": h, "resized_width": w})
    content.append({"type": "text", "text": question})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": content})
    return messages
