"""Video QA environments: one-turn multiple choice (VideoQA-v0) and multi-turn frame search (VideoSearch-v0).

Observations: "text" (question, options, what the frames show), "video" (the file's path),
"frames" (T×H×W×3 uint8); each frame's timestamp is in `info["frame_timestamps"]`.

Data (`data=`): "builtin" (generated clips shipped in assets/video, split train/test), a task
file (.jsonl/.json; relative `video` paths are resolved against the file's folder), a benchmark
spec {"format": "videomme" | "mvbench" | "longvideobench", "annotations": ..., "video_dir": ...,
"missing": "skip", plus the loader's options: "video_ids" (videomme), "frame_fps" (mvbench)}, or
a TaskSuite. A task's data holds `video` (a file, or a frame folder with `frame_fps`), `options`
(texts), `answer` (letter; "" when unknown) and optionally `clip` [start, end] and `evidence`
[start, end] in seconds, and `source`, which picks the answer rule (`stepgym.rewards.video`).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.spaces import AnyImage, FreeText
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.envs.video.datasets import LETTERS, load_benchmark
from stepgym.envs.video.io import VideoReader, open_video, sample_indices
from stepgym.envs.video.slowfast import SlowFastConfig, encode_frames
from stepgym.paths import asset_path
from stepgym.rewards.video import AnswerRule, rule_name
from stepgym.rewards.video import answer_rule as resolve_answer_rule

SAMPLING = ("uniform", "slowfast")


def load_video_tasks(data: str | Path | dict | TaskSuite) -> TaskSuite:
    """The TaskSuite named by an env's `data` argument (see the module docstring)."""
    if isinstance(data, TaskSuite):
        return data
    if isinstance(data, dict):
        spec = dict(data)
        fmt = spec.pop("format", None)
        unknown = set(spec) - {"annotations", "video_dir", "missing", "split", "video_ids", "frame_fps"}
        if fmt is None or "annotations" not in spec or "video_dir" not in spec or unknown:
            raise ValueError("a benchmark data spec needs 'format', 'annotations', 'video_dir' (optional "
                             f"'missing', 'split', 'video_ids', 'frame_fps'), got {sorted(data)}")
        options = {k: spec[k] for k in ("video_ids", "frame_fps") if k in spec}
        return load_benchmark(fmt, spec["annotations"], spec["video_dir"], missing=spec.get("missing", "error"),
                              split=spec.get("split", "test"), **options)
    path = asset_path("video", "tasks.jsonl") if str(data) == "builtin" else Path(data)
    suite = TaskSuite.load(path, name="videoqa" if str(data) == "builtin" else None)
    root = Path(path).resolve().parent
    tasks = []
    for t in suite:
        if "video" not in t.data or "options" not in t.data or "answer" not in t.data:
            raise ValueError(f"video task {t.task_id!r} in {str(path)!r} needs 'video', 'options' and 'answer'")
        video = Path(t.data["video"])
        data_ = {**t.data, "video": str(video if video.is_absolute() else root / video)}
        tasks.append(Task(t.task_id, t.instruction, t.split, data_))
    return TaskSuite(tasks, name=suite.name)


def _options_text(options: list[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))


def _times(ts: np.ndarray) -> str:
    return ", ".join(f"{t:.1f}s" for t in ts)


def contact_sheet(frames: np.ndarray, timestamps: np.ndarray, cols: int = 4, pad: int = 4) -> np.ndarray:
    """One H×W×3 uint8 image of the frames in a grid, each with its timestamp written in a corner."""
    from PIL import Image, ImageDraw

    if len(frames) == 0:
        return np.zeros((32, 32, 3), np.uint8)
    n, h, w = frames.shape[:3]
    cols = min(cols, n)
    rows = -(-n // cols)
    sheet = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + pad) + pad), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    for i, (frame, t) in enumerate(zip(frames, timestamps, strict=True)):
        x, y = pad + (i % cols) * (w + pad), pad + (i // cols) * (h + pad)
        sheet.paste(Image.fromarray(frame), (x, y))
        draw.rectangle([x, y, x + 38, y + 11], fill=(0, 0, 0))
        draw.text((x + 2, y), f"{t:.1f}s", fill=(255, 255, 255))
    return np.asarray(sheet)


class _VideoEnvBase(StepEnv):
    """Shared parts: task data, an open reader for the current video, the answer."""

    def __init__(self, data: Any, split: str, max_steps: int, max_side: int | None, backend: str,
                 render_mode: str | None) -> None:
        super().__init__(load_video_tasks(data), split=split, max_steps=max_steps, render_mode=render_mode)
        self.max_side = max_side
        self.backend = backend
        self._reader: VideoReader | None = None
        self._reader_path: str | None = None
        self.answer_rule: str | AnswerRule | None = None  # None: the rule of each task's source
        self.answered: str | None = None
        self.frames = np.zeros((0, 1, 1, 3), np.uint8)
        self.timestamps = np.zeros(0)

    def _extra_spaces(self):
        return {"video": FreeText(), "frames": AnyImage(sample_shape=(4, 64, 64, 3), frames=True)}

    # -- task ------------------------------------------------------------------------------------
    @property
    def options(self) -> list[str]:
        return list(self.task.data["options"])

    @property
    def letters(self) -> str:
        return LETTERS[: len(self.options)]

    @property
    def clip(self) -> tuple[float | None, float | None]:
        clip = self.task.data.get("clip")
        return (float(clip[0]), float(clip[1])) if clip else (None, None)

    def reader(self) -> VideoReader:
        path = str(self.task.data["video"])
        if self._reader is None or self._reader_path != path:
            if self._reader is not None:
                self._reader.close()
            self._reader = open_video(path, self.backend, self.max_side, fps=self.task.data.get("frame_fps"))
            self._reader_path = path
        return self._reader

    def evidence(self) -> tuple[float, float]:
        """The evidence span in seconds (the clip, or the whole video, when the task names none)."""
        ev = self.task.data.get("evidence")
        if ev:
            return float(ev[0]), float(ev[1])
        start, end = self.clip
        return (start or 0.0, end if end is not None else self.reader().meta.duration)

    @property
    def rule(self) -> AnswerRule:
        """The answer rule of the current task: `answer_rule` if set, else its benchmark's."""
        return resolve_answer_rule(self.answer_rule, str(self.task.data.get("source", "generated")))

    @property
    def answer_known(self) -> bool:
        """False for questions whose release hides the answer (a reply is recorded, not scored)."""
        return bool(str(self.task.data.get("answer", "")).strip())

    def _parse_letter(self, text: str) -> str:
        # the benchmark's own reading of the reply; it may guess (LongVideoBench), seeded by the env
        letter = self.rule(text, self.options, self.np_random)
        if letter is None:
            shown = text.strip().replace("\n", " ")[:60]
            raise ActionError(f"expected an option letter ({', '.join(self.letters)}), e.g. 'B' or "
                              f"'The best answer is B', got {shown!r}")
        return letter

    def _answer(self, letter: str) -> Outcome:
        self.answered = letter
        correct = self.answer_known and letter == str(self.task.data["answer"]).strip().upper()
        return Outcome(reward=1.0 if correct else 0.0, terminated=True, success=correct)

    def _oracle_letter(self) -> str:
        if not self.answer_known:
            raise ValueError(f"task {self.task.task_id!r} has no known answer (its release hides it): no oracle")
        return str(self.task.data["answer"]).strip().upper()

    def _snapshot_state(self):
        # frames are replaced, never written in place, so the arrays can be shared
        return {"answered": self.answered, "frames": self.frames, "timestamps": self.timestamps,
                **self._own_state()}

    def _restore_state(self, state) -> None:
        self.answered, self.frames, self.timestamps = state["answered"], state["frames"], state["timestamps"]
        self._restore_own(state)

    def _own_state(self) -> dict[str, Any]:
        return {}

    def _restore_own(self, state: dict[str, Any]) -> None:
        pass

    def _observe_extra(self) -> dict[str, Any]:
        # a copy: users keep observations, and cached frames must not change under them
        return {"video": str(self.task.data["video"]), "frames": self.frames.copy()}

    def render(self):
        if self.render_mode == "rgb_array":
            return contact_sheet(self.frames, self.timestamps)
        return super().render()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        super().close()


# -- VideoQA-v0 -----------------------------------------------------------------------------------------
QA_ACTION_DOC = """\
Answer the multiple-choice question about the video with the letter of one option, e.g. "B" or
"The best answer is B." Your reply is read the way the benchmark's own evaluator reads it; a
reply that is just the letter reads the same everywhere. One answer ends the episode."""


class VideoQAEnv(_VideoEnvBase):
    """One-turn video multiple choice: frames sampled uniformly or with Slow-Fast encoding."""

    action_doc = QA_ACTION_DOC
    action_examples = ("A", "B", "C", "D", "The best answer is B.", "(C) the second one")

    def __init__(self, data: Any = "builtin", split: str = "all", num_frames: int = 8,
                 sampling: str = "uniform", token_budget: int = 2048, slowfast: dict | None = None,
                 max_side: int | None = 224, backend: str = "auto", cache_size: int = 8,
                 answer_rule: str | AnswerRule | None = None, max_steps: int = 1,
                 render_mode: str | None = None) -> None:
        """`sampling="uniform"` shows `num_frames` evenly spread frames; `"slowfast"` reads
        candidates at `slowfast["sample_fps"]` and keeps those Slow-Fast encoding fits into
        `token_budget` (other `SlowFastConfig` fields in `slowfast`). `max_side` caps the
        decoded frame size. `answer_rule` (a name in `stepgym.rewards.video.ANSWER_RULES` or a
        callable) reads replies; by default each task's benchmark's own rule."""
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
        super().__init__(data, split, max_steps, max_side, backend, render_mode)
        if answer_rule is not None:
            resolve_answer_rule(answer_rule)  # an unknown name fails here, not mid-episode
            self.answer_rule = answer_rule
        self.num_frames = num_frames
        self.sampling = sampling
        self.slowfast_config = None
        if sampling == "slowfast":
            self.slowfast_config = SlowFastConfig(token_budget=token_budget, **(slowfast or {}))
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.cache_size = cache_size
        self.frame_info: dict[str, Any] = {}

    def _sample(self) -> dict[str, Any]:
        start, end = self.clip
        reader = self.reader()
        if self.sampling == "uniform":
            idx = sample_indices(reader.meta, nframes=self.num_frames, start=start, end=end)
            frames = reader.get_frames(idx)
            return {"frames": frames, "timestamps": reader.meta.timestamps(idx), "kinds": None,
                    "tokens": None, "sizes": None}
        cfg = self.slowfast_config
        idx = sample_indices(reader.meta, sample_fps=cfg.sample_fps, max_frames=cfg.max_frames, start=start, end=end)
        video = encode_frames(reader.get_frames(idx), reader.meta.timestamps(idx), cfg, reader.path)
        return {"frames": video.frames, "timestamps": video.timestamps, "kinds": video.plan.kinds,
                "tokens": video.plan.frame_tokens, "sizes": [list(s) for s in video.plan.sizes]}

    def _load_task(self, task: Task) -> None:
        self.answered = None
        key = task.task_id
        if key not in self._cache:
            self._cache[key] = self._sample()
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        self.frame_info = self._cache[key]
        self.frames = self.frame_info["frames"]
        self.timestamps = self.frame_info["timestamps"]

    def _own_state(self) -> dict[str, Any]:
        return {"frame_info": self.frame_info}

    def _restore_own(self, state: dict[str, Any]) -> None:
        self.frame_info = state["frame_info"]

    def parse_action(self, action: str | dict) -> dict[str, Any]:
        if isinstance(action, dict):
            letter = str(action.get("answer", "")).strip().upper()
            if letter not in self.letters or not letter:
                raise ActionError(f"expected a dict like {{'answer': 'B'}} with one of {', '.join(self.letters)}, "
                                  f"got {action!r:.80}")
            return {"answer": letter}
        return {"answer": self._parse_letter(action)}

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        return self._answer(parsed["answer"])

    def _observe_text(self) -> str:
        kinds = self.frame_info.get("kinds")
        how = (f"{len(self.frames)} frames (Slow-Fast: {kinds.count('slow')} slow, {kinds.count('fast')} fast)"
               if kinds else f"{len(self.frames)} frames")
        text = (f"Question: {self.task.instruction}\nOptions:\n{_options_text(self.options)}\n"
                f"You see {how} at {_times(self.timestamps)}.\nAnswer with the option's letter.")
        if self.answered:
            text += f"\nYou answered {self.answered}."
        return text

    def _step_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"frame_timestamps": [float(t) for t in self.timestamps],
                                "available_actions": list(self.letters), "answer_rule": rule_name(self.rule),
                                "answer_known": self.answer_known}
        if self.frame_info.get("kinds"):
            info.update(frame_kinds=self.frame_info["kinds"], frame_tokens=self.frame_info["tokens"],
                        frame_sizes=self.frame_info["sizes"])
        return info

    def state_key(self) -> str:
        return f"{self.task.task_id}|{self.answered or '-'}"

    def oracle_action(self) -> str:
        return f"The best answer is {self._oracle_letter()}."


# -- VideoSearch-v0 -------------------------------------------------------------------------------------
SEARCH_ACTION_DOC = """\
Look at the video by asking for frames, then answer. One call per turn:
  frames(start=12.0, end=20.0, n=4)   n frames (1 to 8) evenly spread over [start, end] seconds
  answer(B)                            your final answer, an option letter; ends the episode
Every frame you ask for counts against the frame budget stated in the observation; asking for
more than is left is refused. The observation shows the frames of your last call."""

_CALL = re.compile(r"\b(frames|answer)\s*\(([^()]*)\)", re.IGNORECASE)


def _parse_number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ActionError(f"frames(...): {name} must be a number of seconds, got {text.strip()!r}") from None
    if not np.isfinite(value):
        raise ActionError(f"frames(...): {name} must be finite, got {text.strip()!r}")
    return value


class VideoSearchEnv(_VideoEnvBase):
    """Multi-turn frame search: ask for frames at chosen times within a budget, then answer."""

    action_doc = SEARCH_ACTION_DOC
    action_examples = ("frames(start=0.0, end=4.0, n=4)", "frames(start=10, end=12, n=2)", "answer(A)",
                       "answer(C)", "frames(start=5)")
    max_frames_per_call = 8

    def __init__(self, data: Any = "builtin", split: str = "all", frame_budget: int = 16,
                 overview_frames: int = 4, max_side: int | None = 224, backend: str = "auto",
                 max_steps: int = 8, render_mode: str | None = None) -> None:
        """`overview_frames` evenly spread frames come free with the first observation;
        `frame_budget` caps the frames all `frames(...)` calls may return together."""
        if not isinstance(frame_budget, int) or frame_budget < 1:
            raise ValueError(f"frame_budget must be a positive int, got {frame_budget!r}")
        super().__init__(data, split, max_steps, max_side, backend, render_mode)
        self.frame_budget = frame_budget
        self.overview_frames = overview_frames
        self.seen: set[int] = set()
        self.used = 0

    @property
    def left(self) -> int:
        return self.frame_budget - self.used

    def _show(self, idx: np.ndarray) -> None:
        reader = self.reader()
        self.frames = reader.get_frames(idx)
        self.timestamps = reader.meta.timestamps(idx)
        self.seen.update(int(i) for i in idx)

    def _own_state(self) -> dict[str, Any]:
        return {"seen": set(self.seen), "used": self.used}

    def _restore_own(self, state: dict[str, Any]) -> None:
        self.seen, self.used = set(state["seen"]), state["used"]

    def _load_task(self, task: Task) -> None:
        self.answered = None
        self.seen = set()
        self.used = 0
        start, end = self.clip
        if self.overview_frames > 0:
            self._show(sample_indices(self.reader().meta, nframes=self.overview_frames, start=start, end=end))
        else:
            meta = self.reader().meta
            self.frames = np.zeros((0, meta.height, meta.width, 3), np.uint8)
            self.timestamps = np.zeros(0)

    def parse_action(self, action: str | dict) -> dict[str, Any]:
        if isinstance(action, dict):
            if "answer" in action:
                return {"op": "answer", "answer": self._parse_letter(str(action["answer"]))}
            if "start" in action:
                return self._frames_args(str(action.get("start")), str(action.get("end", action.get("start"))),
                                         str(action.get("n", 1)))
            raise ActionError(f"expected a dict with 'answer' or 'start'/'end'/'n', got {action!r:.80}")
        calls = _CALL.findall(action)
        if not calls:
            shown = action.strip().replace("\n", " ")[:60]
            raise ActionError(f"expected frames(start=..., end=..., n=...) or answer(X), got {shown!r}")
        op, args = calls[-1]
        if op.lower() == "answer":
            letter = args.strip().strip("'\"").upper()
            if letter not in self.letters or not letter:
                raise ActionError(f"answer(...) takes one option letter ({', '.join(self.letters)}), got {args.strip()!r}")
            return {"op": "answer", "answer": letter}
        named: dict[str, str] = {}
        positional = []
        for part in (p for p in args.split(",") if p.strip()):
            if "=" in part:
                k, v = part.split("=", 1)
                named[k.strip().lower()] = v
            else:
                positional.append(part)
        for key, value in zip(("start", "end", "n"), positional[:3], strict=False):
            named.setdefault(key, value)
        extra = set(named) - {"start", "end", "n"}
        if extra or "start" not in named or len(positional) > 3:
            raise ActionError(f"frames(...) takes start=, end= and n=, got {args.strip()!r}")
        return self._frames_args(named["start"], named.get("end", named["start"]), named.get("n", "1"))

    def _frames_args(self, start: str, end: str, n: str) -> dict[str, Any]:
        s, e = _parse_number(start, "start"), _parse_number(end, "end")
        try:
            count = int(str(n).strip())
        except ValueError:
            raise ActionError(f"frames(...): n must be a whole number 1-{self.max_frames_per_call}, got {n!r}") from None
        if not 1 <= count <= self.max_frames_per_call:
            raise ActionError(f"frames(...): n must be 1-{self.max_frames_per_call}, got {count}")
        return {"op": "frames", "start": s, "end": e, "n": count}

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        if parsed["op"] == "answer":
            return self._answer(parsed["answer"])
        meta = self.reader().meta
        lo, hi = self.clip[0] or 0.0, self.clip[1] if self.clip[1] is not None else meta.duration
        s, e, n = parsed["start"], parsed["end"], parsed["n"]
        if not lo <= s < hi or e < s:
            raise ActionError(f"frames(...): need {lo:.1f} <= start < {hi:.1f} and end >= start (seconds), "
                              f"got start={s}, end={e}")
        if n > self.left:
            raise ActionError(f"frames(...): asked for {n} frames but only {self.left} of the budget "
                              f"{self.frame_budget} are left; ask for fewer or answer")
        e = min(e, hi)
        idx = sample_indices(meta, nframes=n, start=s, end=max(e, s + 1.0 / meta.fps))
        self.used += n
        self._show(idx)
        return Outcome()

    def _observe_text(self) -> str:
        meta = self.reader().meta
        text = (f"Question: {self.task.instruction}\nOptions:\n{_options_text(self.options)}\n"
                f"The video lasts {meta.duration:.1f}s. Frame budget left: {self.left} of {self.frame_budget}.\n"
                f"Frames shown: {len(self.frames)} at {_times(self.timestamps) or 'none'}.")
        if self.answered:
            text += f"\nYou answered {self.answered}."
        return text

    def _step_info(self) -> dict[str, Any]:
        meta = self.reader().meta
        lo, hi = self.clip[0] or 0.0, self.clip[1] if self.clip[1] is not None else meta.duration
        quarter = (hi - lo) / 4
        probes = [f"frames(start={lo + q * quarter:.1f}, end={lo + (q + 1) * quarter:.1f}, n=2)" for q in range(4)]
        return {"frame_timestamps": [float(t) for t in self.timestamps], "frames_left": self.left,
                "available_actions": probes + [f"answer({c})" for c in self.letters]}

    def state_key(self) -> str:
        digest = hashlib.sha1(",".join(map(str, sorted(self.seen))).encode()).hexdigest()[:10]
        return f"seen{len(self.seen)}:{digest}|{self.answered or '-'}"

    def oracle_action(self) -> str:
        meta = self.reader().meta
        s, e = self.evidence()
        seen_t = meta.timestamps(sorted(self.seen))
        if self.left > 0 and not np.any((seen_t >= s) & (seen_t < e)):
            return f"frames(start={s:.2f}, end={e:.2f}, n={min(4, self.left)})"
        return f"answer({self._oracle_letter()})"
