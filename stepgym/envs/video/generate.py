"""Procedural videos with ground truth: multiple-choice questions and evidence time spans.

Kinds (each a function of a seed, so the same seed gives the same video and question):

- ``needle``: long distractor footage (static textured scenes with a small drifting ball,
  separated by cuts) with a short inserted "needle" image: a vivid shape with a text tag on a
  plain card, shown for a moment.
  Asks which object appeared; the evidence span is the needle's.
- ``count``: a square flashes red N times; asks how many; evidence from first to last flash.
- ``color_change``: a circle changes colour once; asks the colour before or after.
- ``collision``: two balls roll toward each other and bounce apart; asks when they collide.

    video = make_video("needle", seed=3, duration=30.0)
    write_dataset("data/video", n=20, seed=0)   # mp4s + tasks.jsonl readable by VideoQA-v0
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

KINDS = ("needle", "count", "color_change", "collision")
LETTERS = "ABCDEFGH"

VIVID = {"red": (230, 30, 30), "green": (30, 200, 60), "blue": (40, 70, 240), "yellow": (250, 220, 20),
         "magenta": (230, 40, 220), "cyan": (30, 220, 230), "orange": (250, 140, 20), "white": (250, 250, 250)}
NEEDLE_SHAPES = ("star", "triangle", "cross", "diamond")
NEEDLE_TAGS = ("A7", "K2", "Q9", "Z4", "M3", "X8")


@dataclass
class GeneratedVideo:
    """One generated clip: frames, frame rate, a question with options, its answer and evidence."""

    kind: str
    frames: np.ndarray  # [T, H, W, 3] uint8
    fps: float
    question: str
    options: list[str]  # option texts, without letters
    answer: str  # the correct option's letter
    evidence: tuple[float, float]  # seconds [start, end) that show the answer
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps

    def record(self, video: str, task_id: str, split: str = "test") -> dict[str, Any]:
        """The task record VideoQA-v0 reads (`video` is the file path, relative to the task file)."""
        return {"task_id": task_id, "instruction": self.question, "split": split, "video": video,
                "options": self.options, "answer": self.answer, "evidence": list(self.evidence),
                "duration": round(self.duration, 3), "fps": self.fps, "kind": self.kind,
                "source": "generated", "meta": self.meta}


# -- drawing helpers -------------------------------------------------------------------------------
def _muted(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(40, 160, size=3))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A scene: vertical gradient between two muted colours plus a few static muted blocks."""
    top, bottom = np.array(_muted(rng), float), np.array(_muted(rng), float)
    ramp = np.linspace(0.0, 1.0, h)[:, None, None]
    img = (top * (1 - ramp) + bottom * ramp).repeat(w, axis=1).astype(np.uint8)
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(2, 5))):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        draw.rectangle([x0, y0, x0 + int(rng.integers(10, w // 3)), y0 + int(rng.integers(10, h // 3))],
                       fill=_muted(rng))
    return np.asarray(pil)


def textured_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A "footage" scene: a high-contrast stripe or check texture (a colour on black) with a few
    solid blocks. Texture matters: patch-similarity tests (Slow-Fast) see cuts between textures."""
    yy, xx = np.mgrid[0:h, 0:w]
    period = int(rng.integers(6, 15))
    style = int(rng.integers(4))
    if style == 0:
        mask = (yy // (period // 2)) % 2 == 0
    elif style == 1:
        mask = (xx // (period // 2)) % 2 == 0
    elif style == 2:
        mask = ((xx + yy) // (period // 2)) % 2 == 0
    else:
        mask = ((yy // period) + (xx // period)) % 2 == 0
    colour = np.array([int(v) for v in rng.integers(60, 256, size=3)], np.uint8)
    img = np.zeros((h, w, 3), np.uint8)
    img[mask] = colour
    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        draw.rectangle([x0, y0, x0 + int(rng.integers(10, w // 3)), y0 + int(rng.integers(10, h // 3))],
                       fill=_muted(rng))
    return np.asarray(pil)


def _shape_points(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "star":
        ang = np.pi / 2 + np.arange(10) * np.pi / 5
        rad = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
        return [(cx + q * np.cos(a), cy - q * np.sin(a)) for a, q in zip(ang, rad, strict=True)]
    if shape == "triangle":
        return [(cx, cy - r), (cx + r * 0.95, cy + r * 0.8), (cx - r * 0.95, cy + r * 0.8)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r * 0.7, cy), (cx, cy + r), (cx - r * 0.7, cy)]
    if shape == "cross":
        a, b = r, r * 0.35
        return [(cx - b, cy - a), (cx + b, cy - a), (cx + b, cy - b), (cx + a, cy - b), (cx + a, cy + b),
                (cx + b, cy + b), (cx + b, cy + a), (cx - b, cy + a), (cx - b, cy + b), (cx - a, cy + b),
                (cx - a, cy - b), (cx - b, cy - b)]
    raise ValueError(f"unknown shape {shape!r}; expected one of {NEEDLE_SHAPES}")


def _object_name(colour: str, shape: str) -> str:
    return f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {shape}"


def _ball(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)


def _options(rng: np.random.Generator, correct: str, pool: Sequence[str], n: int = 4) -> tuple[list[str], str]:
    """`n` options holding `correct` at a random position, distractors drawn from `pool`."""
    others = [p for p in pool if p != correct]
    picks = [others[int(i)] for i in rng.choice(len(others), size=n - 1, replace=False)]
    pos = int(rng.integers(n))
    picks.insert(pos, correct)
    return picks, LETTERS[pos]


# -- the kinds -------------------------------------------------------------------------------------
def _drifting_ball_scenes(rng: np.random.Generator, n_frames: int, h: int, w: int, fps: float,
                          scene_seconds: tuple[float, float]) -> tuple[list[np.ndarray], list[int]]:
    """Distractor footage: static scenes (cut every few seconds) with one small drifting ball."""
    frames, cuts = [], []
    t = 0
    while t < n_frames:
        length = int(rng.uniform(*scene_seconds) * fps)
        bg = textured_background(rng, h, w)
        colour = _muted(rng)
        x, y = rng.uniform(10, w - 10), rng.uniform(10, h - 10)
        vx, vy = rng.uniform(-1, 1, size=2) * 12 / fps
        cuts.append(t)
        for _ in range(min(length, n_frames - t)):
            pil = Image.fromarray(bg)
            _ball(ImageDraw.Draw(pil), x, y, 3, colour)
            frames.append(np.asarray(pil))
            x, y = x + vx, y + vy
            if not 4 < x < w - 4:
                vx = -vx
            if not 4 < y < h - 4:
                vy = -vy
            t += 1
    return frames, cuts


def _needle(rng, h, w, fps, duration, needle_seconds=1.0, scene_seconds=(3.0, 8.0), position=None):
    n = int(round(duration * fps))
    frames, cuts = _drifting_ball_scenes(rng, n, h, w, fps, scene_seconds)
    length = max(1, int(round(needle_seconds * fps)))
    start = int(rng.integers(0, n - length + 1)) if position is None else int(round(position * (n - length)))
    shape = NEEDLE_SHAPES[int(rng.integers(len(NEEDLE_SHAPES)))]
    colour = list(VIVID)[int(rng.integers(len(VIVID)))]
    tag = NEEDLE_TAGS[int(rng.integers(len(NEEDLE_TAGS)))]
    r = min(h, w) * 0.35
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    # the needle is an inserted image (as in V-NIAH): a shape on a plain card, with a text tag
    card = np.full((h, w, 3), 225, np.uint8)
    for i in range(start, start + length):
        pil = Image.fromarray(card)
        draw = ImageDraw.Draw(pil)
        draw.polygon(_shape_points(shape, cx, cy, r), fill=VIVID[colour], outline=(0, 0, 0))
        draw.text((cx - 6, cy - 5), tag, fill=(0, 0, 0))
        frames[i] = np.asarray(pil)
    correct = _object_name(colour, shape)
    pool = [_object_name(c, s) for c in VIVID for s in NEEDLE_SHAPES]
    options, answer = _options(rng, correct, pool)
    q = "An object appeared only briefly in this video. Which object was it?"
    meta = {"needle_frames": [start, start + length], "tag": tag, "cuts": cuts}
    return frames, q, options, answer, (start / fps, (start + length) / fps), meta


def _count(rng, h, w, fps, duration):
    n = int(round(duration * fps))
    k = int(rng.integers(1, 6))
    flash = max(1, int(round(0.5 * fps)))
    slots = rng.choice(np.arange(1, n // (2 * flash)), size=k, replace=False) * 2 * flash
    slots = np.sort(slots)
    bg = _background(rng, h, w)
    x0, y0, side = w // 2 - 12, h // 2 - 12, 24
    base = _muted(rng)
    frames = []
    for i in range(n):
        pil = Image.fromarray(bg)
        on = any(s <= i < s + flash for s in slots)
        ImageDraw.Draw(pil).rectangle([x0, y0, x0 + side, y0 + side], fill=VIVID["red"] if on else base)
        frames.append(np.asarray(pil))
    options, answer = _options(rng, str(k), [str(v) for v in range(1, 8)])
    q = "How many times does the square in the middle flash red?"
    ev = (float(slots[0]) / fps, float(slots[-1] + flash) / fps)
    return frames, q, options, answer, ev, {"flashes": [int(s) for s in slots]}


def _color_change(rng, h, w, fps, duration):
    n = int(round(duration * fps))
    names = list(VIVID)
    a, b = (names[int(i)] for i in rng.choice(len(names), size=2, replace=False))
    change = int(rng.integers(int(0.25 * n), int(0.75 * n)))
    bg = _background(rng, h, w)
    frames = []
    for i in range(n):
        pil = Image.fromarray(bg)
        _ball(ImageDraw.Draw(pil), w / 2, h / 2, min(h, w) * 0.2, VIVID[a if i < change else b])
        frames.append(np.asarray(pil))
    before = bool(rng.integers(2))
    correct = a if before else b
    q = ("What colour is the circle before it changes colour?" if before
         else "What colour does the circle turn into?")
    options, answer = _options(rng, correct, names)
    half = max(1, int(0.5 * fps))
    ev = (max(0, change - half) / fps, min(n, change + half) / fps)
    return frames, q, options, answer, ev, {"change_frame": change, "before": a, "after": b}


def _collision(rng, h, w, fps, duration):
    n = int(round(duration * fps))
    r = 8.0
    tc = float(rng.uniform(0.2, 0.8) * duration)
    speed = rng.uniform(15, 30)
    y = h / 2
    bg = _background(rng, h, w)
    frames = []
    for i in range(n):
        t = i / fps
        d = speed * abs(t - tc)  # each ball's distance from its touching position
        pil = Image.fromarray(bg)
        draw = ImageDraw.Draw(pil)
        _ball(draw, w / 2 - r - d, y, r, VIVID["red"])
        _ball(draw, w / 2 + r + d, y, r, VIVID["blue"])
        frames.append(np.asarray(pil))
    # distractor times whole seconds away from the true one, inside the clip
    shown = round(tc * 2) / 2
    offsets = [o for o in (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0) if 0.0 < shown + o < duration]
    pool = [f"about {shown + o:.1f} s" for o in offsets] + [f"about {shown:.1f} s"]
    options, answer = _options(rng, f"about {shown:.1f} s", pool)
    q = "At about what time do the red ball and the blue ball collide?"
    return frames, q, options, answer, (max(0.0, tc - 0.5), min(duration, tc + 0.5)), {"collision_time": tc}


_MAKERS = {"needle": _needle, "count": _count, "color_change": _color_change, "collision": _collision}
_DEFAULT_DURATION = {"needle": 24.0, "count": 8.0, "color_change": 4.0, "collision": 8.0}


def make_video(kind: str, seed: int, *, height: int = 128, width: int = 160, fps: float = 8.0,
               duration: float | None = None, **kind_args) -> GeneratedVideo:
    """A generated clip of `kind` from `seed` (deterministic); `kind_args` go to the kind's maker
    (needle: `needle_seconds`, `scene_seconds`, `position` in [0, 1])."""
    if kind not in _MAKERS:
        raise ValueError(f"unknown video kind {kind!r}; expected one of {KINDS}")
    if height % 2 or width % 2 or height < 48 or width < 48:
        raise ValueError(f"height and width must be even and >= 48, got {height}x{width}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    duration = float(duration or _DEFAULT_DURATION[kind])
    frames, q, options, answer, ev, meta = _MAKERS[kind](rng, height, width, fps, duration, **kind_args)
    return GeneratedVideo(kind, np.stack(frames), fps, q, options, answer,
                          (round(ev[0], 4), round(ev[1], 4)), {"seed": seed, **meta})


def write_dataset(out_dir: str | Path, n: int, seed: int = 0, kinds: Sequence[str] = KINDS, *,
                  split: str = "test", crf: int = 28, append: bool = False, **video_args) -> Path:
    """Write `n` generated videos (kinds in turn, seeds `seed`..) as mp4 + `tasks.jsonl`; returns the task file.

    With `append`, the records already in `tasks.jsonl` stay (those of the same task ids are
    replaced), so one folder can hold several splits. The task file is replaced atomically.
    """
    from stepgym.envs.video.io import write_video

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tasks.jsonl"
    records = {}
    if append and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                records[rec["task_id"]] = rec
    for i in range(n):
        kind = kinds[i % len(kinds)]
        video = make_video(kind, seed + i, **video_args)
        name = f"{kind}_{seed + i:04d}.mp4"
        write_video(out / name, video.frames, video.fps, crf=crf)
        rec = video.record(name, f"gen-{kind}-{seed + i:04d}", split)
        records[rec["task_id"]] = rec
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records.values():
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    tmp.replace(path)
    return path
