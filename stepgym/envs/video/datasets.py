"""Loaders for Video-MME, MVBench and LongVideoBench, from their files as the benchmarks release them.

Each loader returns `VideoQAItem`s (option texts without letters, the answer letter, the video's
local path) and `to_suite` turns them into the `TaskSuite` that VideoQA-v0 / VideoSearch-v0 read;
a task's `source` picks the answer rule of its benchmark (`stepgym.rewards.video`).

Layouts read, and which fields are used (everything else is ignored):

- **Video-MME**, Hugging Face parquet (`videomme/test-00000-of-00001.parquet`, one row per
  question; JSON/JSONL rows of the same fields load too): `question_id`, `question`, `options`
  ["A. ...", ...], `answer` (letter), `videoID` (the video's file name), `duration`
  (short/medium/long), `task_type`, `domain`, `sub_category`, `video_id`.
  **Official JSON template** (`evaluation/output_test_template.json`, one object per video):
  `video_id`, `duration_category`, `video_category`, `video_subcategory`, `questions`
  [{`question_id`, `task_type`, `question`, `choices`, `answer`}]. The template has no `videoID`:
  videos are then found as `<video_id>.mp4`, or through `video_ids=` (a {video_id: videoID} map,
  or the path of the parquet, which holds both). Videos are `<videoID>.mp4`, `.MP4` or `.mkv`
  under `video_dir` or `video_dir/data/` (where the release's zips unpack).
  Ignored: `url`, `response`, subtitles (`subtitle/<videoID>.srt`).
- **MVBench**, one JSON per task (`json/<task>.json`): [{`video`, `question`, `candidates`,
  `answer` (the right candidate's text), `start`/`end` (seconds)}]. `video_dir` is the release's
  `video/` folder (each task's videos are looked up in its sub-folder, `MVBENCH_TASKS`, then
  directly under `video_dir`) or a {task: folder} map. `start`/`end` clip the video for the tasks
  whose evaluation uses them (MVBench's data list: action_sequence, action_prediction,
  object_interaction, action_localization, episodic_reasoning; any task not in that list when
  present). A `video` that is a folder of frames (episodic_reasoning: `frames_fps3_hq/<clip>/`)
  is read as frames at `frame_fps` (3, as MVBench declares; a float or a {task: fps} map).
- **LongVideoBench**, `lvb_val.json` / `lvb_test_wo_gt.json`: [{`id`, `video_path`, `question`,
  `candidates` [...], `correct_choice` (index; absent in the test file), `duration`,
  `duration_group`, `question_category`, `video_id`, `level`, `topic_category`}]; the parquet
  (`validation-00000-of-00001.parquet`) spreads the candidates over `option0`..`option4` ("N/A"
  when unused). Videos under `video_dir` or `video_dir/videos/`. Ignored: `subtitle_path`,
  `starting_timestamp_for_subtitles`, `position`, `question_wo_referring_query`, `view_count`.

A question whose release hides the answer (LongVideoBench's test file) gets `answer=""`: the env
still reads and records the reply (for a submission file) but cannot score it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from stepgym.envs.tasks import Task, TaskSuite

LETTERS = "ABCDEFGH"
# the extensions Video-MME's videos come in (lmms-eval tries .mp4, .MP4, then .mkv), then others
VIDEO_EXTENSIONS = (".mp4", ".MP4", ".mkv", ".webm", ".avi", ".mov", ".MOV")
Missing = Literal["error", "skip", "keep"]
_LETTER_PREFIX = re.compile(r"^\s*\(?([A-H])[.):]\s*")

# MVBench's data list: task -> (sub-folder of video/, data type, clipped by start/end)
MVBENCH_TASKS: dict[str, tuple[str, str, bool]] = {
    "action_sequence": ("star/Charades_v1_480", "video", True),
    "action_prediction": ("star/Charades_v1_480", "video", True),
    "action_antonym": ("ssv2_video", "video", False),
    "fine_grained_action": ("Moments_in_Time_Raw/videos", "video", False),
    "unexpected_action": ("FunQA_test/test", "video", False),
    "object_existence": ("clevrer/video_validation", "video", False),
    "object_interaction": ("star/Charades_v1_480", "video", True),
    "object_shuffle": ("perception/videos", "video", False),
    "moving_direction": ("clevrer/video_validation", "video", False),
    "action_localization": ("sta/sta_video", "video", True),
    "scene_transition": ("scene_qa/video", "video", False),
    "action_count": ("perception/videos", "video", False),
    "moving_count": ("clevrer/video_validation", "video", False),
    "moving_attribute": ("clevrer/video_validation", "video", False),
    "state_change": ("perception/videos", "video", False),
    "fine_grained_pose": ("nturgbd", "video", False),
    "character_order": ("perception/videos", "video", False),
    "egocentric_navigation": ("vlnqa", "video", False),
    "episodic_reasoning": ("tvqa/frames_fps3_hq", "frame", True),
    "counterfactual_inference": ("clevrer/video_validation", "video", False),
}
MVBENCH_FRAME_FPS = 3.0


@dataclass(frozen=True)
class VideoQAItem:
    """One multiple-choice question about one local video (a file, or a folder of frames)."""

    qid: str
    video: str  # path of the video file or frame folder
    question: str
    options: tuple[str, ...]  # option texts without their letters
    answer: str  # correct letter; "" when the release hides it
    source: str  # videomme | mvbench | longvideobench | generated
    category: str = ""
    duration: float | None = None  # seconds, when known
    duration_group: str = ""
    clip: tuple[float, float] | None = None  # the question is about this part only (seconds)
    evidence: tuple[float, float] | None = None
    frame_fps: float | None = None  # the declared rate of a frame folder
    meta: dict[str, Any] = field(default_factory=dict, compare=False)  # other fields kept for reports

    def to_task(self, split: str = "test") -> Task:
        """The VideoQA task record for this item."""
        data: dict[str, Any] = {"video": self.video, "options": list(self.options), "answer": self.answer,
                                "source": self.source, "category": self.category,
                                "duration_group": self.duration_group}
        for key in ("duration", "frame_fps"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key in ("clip", "evidence"):
            if getattr(self, key) is not None:
                data[key] = list(getattr(self, key))
        if self.meta:
            data["meta"] = dict(self.meta)
        return Task(task_id=f"{self.source}-{self.qid}", instruction=self.question, split=split, data=data)


def to_suite(items: Iterable[VideoQAItem], name: str = "videoqa", split: str = "test") -> TaskSuite:
    """A TaskSuite of the items (one task per question)."""
    return TaskSuite((it.to_task(split) for it in items), name=name)


# -- reading annotation files -----------------------------------------------------------------------
def _read_records(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file {str(path)!r} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    if isinstance(data, dict):  # {"id": record} maps
        data = list(data.values())
    if not isinstance(data, list):
        raise ValueError(f"{str(path)!r}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _need(record: Mapping[str, Any], keys: Iterable[str | tuple[str, ...]], where: str) -> None:
    """Raise naming the fields `record` lacks; a tuple of keys means any one of them."""
    missing = [k if isinstance(k, str) else " or ".join(k) for k in keys
               if not (k in record if isinstance(k, str) else any(a in record for a in k))]
    if missing:
        raise ValueError(f"{where}: record lacks {missing}; has {sorted(record)}")


def _first(record: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    """The value of the first of `keys` present (and not None) in `record`."""
    for key in keys:
        if record.get(key) is not None:
            return record[key]
    return default


def _find_video(roots: Iterable[Path], names: Iterable[str]) -> Path:
    """The first existing `root/name(.ext)`; the first candidate when none exists."""
    candidates = []
    for name in (n for n in names if n):
        for root in roots:
            p = root / name
            candidates.append(p)
            if p.suffix.lower() not in {e.lower() for e in VIDEO_EXTENSIONS}:
                candidates += [root / f"{name}{ext}" for ext in VIDEO_EXTENSIONS]
    for p in candidates:
        if p.exists():
            return p
    if not candidates:
        raise ValueError("no video name to look for")
    return candidates[0]


def _check_files(items: list[VideoQAItem], missing: Missing, what: str, hint: str = "") -> list[VideoQAItem]:
    if missing not in ("error", "skip", "keep"):
        raise ValueError(f"missing must be 'error', 'skip' or 'keep', got {missing!r}")
    if missing == "keep":
        return items

    def present(it: VideoQAItem) -> bool:
        p = Path(it.video)
        return p.is_dir() if it.frame_fps is not None else p.is_file()

    absent = [it for it in items if not present(it)]
    if absent and missing == "error":
        kind = "frame folders" if absent[0].frame_fps is not None else "videos"
        raise FileNotFoundError(
            f"{what}: {len(absent)} of {len(items)} questions point at missing {kind}, e.g. "
            f"{absent[0].video!r}; {hint}pass missing='skip' to drop them"
        )
    gone = {id(it) for it in absent}
    return [it for it in items if id(it) not in gone]


def _strip_letter(option: str, i: int) -> str:
    m = _LETTER_PREFIX.match(option)
    if m and m.group(1) == LETTERS[i]:
        return option[m.end():].strip()
    return option.strip()


def _answer_letter(answer: Any, n_options: int, where: str, qid: Any) -> str:
    letter = "" if answer is None else str(answer).strip().upper()
    if letter and letter not in LETTERS[:n_options]:
        raise ValueError(f"{where}: question {qid!r} has answer {answer!r}; expected one of {LETTERS[:n_options]}")
    return letter


# -- Video-MME ----------------------------------------------------------------------------------------
def _videomme_rows(rec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per question: the parquet's rows as they are, the template's questions with their video's fields."""
    questions = rec.get("questions")
    if isinstance(questions, list):
        head = {k: v for k, v in rec.items() if k != "questions"}
        return [{**head, **q} for q in questions]
    return [dict(rec)]


def _video_id_map(video_ids: Mapping[str, str] | str | Path | None) -> dict[str, str]:
    if video_ids is None:
        return {}
    if isinstance(video_ids, Mapping):
        return {str(k): str(v) for k, v in video_ids.items()}
    rows = _read_records(video_ids)
    return {str(r["video_id"]): str(r["videoID"]) for r in rows if "video_id" in r and "videoID" in r}


def load_videomme(annotations: str | Path, video_dir: str | Path, *, missing: Missing = "error",
                  video_ids: Mapping[str, str] | str | Path | None = None) -> list[VideoQAItem]:
    """Video-MME questions from the HF parquet (or its rows as JSON/JSONL) or the official JSON template."""
    where = f"Video-MME {str(annotations)!r}"
    ids = _video_id_map(video_ids)
    roots = [Path(video_dir), Path(video_dir) / "data"]
    items = []
    for rec in _read_records(annotations):
        for row in _videomme_rows(rec):
            _need(row, ("question_id", "question", ("options", "choices")), where)
            raw = _first(row, "options", "choices")
            options = tuple(_strip_letter(str(o), i) for i, o in enumerate(raw))
            answer = _answer_letter(row.get("answer"), len(options), where, row["question_id"])
            vid = str(row.get("video_id", ""))
            stem = str(_first(row, "videoID", default="")) or ids.get(vid, vid)
            items.append(VideoQAItem(
                qid=str(row["question_id"]), video=str(_find_video(roots, [stem])), question=str(row["question"]),
                options=options, answer=answer, source="videomme", category=str(row.get("task_type", "")),
                duration_group=str(_first(row, "duration", "duration_category", default="")),
                meta={"video_id": vid, "videoID": stem,
                      "domain": str(_first(row, "domain", "video_category", default="")),
                      "sub_category": str(_first(row, "sub_category", "video_subcategory", default=""))}))
    hint = ("the JSON template names videos by video_id only: pass video_ids= (the HF parquet, or a "
            "{video_id: videoID} map) when the files are named by videoID; ") if not ids else ""
    return _check_files(items, missing, where, hint)


# -- MVBench ------------------------------------------------------------------------------------------
def _mvbench_roots(task: str, video_dir: str | Path | Mapping[str, str | Path], where: str) -> list[Path]:
    if isinstance(video_dir, Mapping):
        if task not in video_dir:
            raise KeyError(f"{where}: no video folder for task {task!r}; video_dir names {sorted(video_dir)}")
        return [Path(video_dir[task])]
    root = Path(video_dir)
    return [root / MVBENCH_TASKS[task][0], root] if task in MVBENCH_TASKS else [root]


def _per_task(value: float | Mapping[str, float], task: str) -> float:
    if isinstance(value, Mapping):
        return float(value.get(task, MVBENCH_FRAME_FPS))
    return float(value)


def load_mvbench(annotations: str | Path, video_dir: str | Path | Mapping[str, str | Path], *,
                 missing: Missing = "error", frame_fps: float | Mapping[str, float] = MVBENCH_FRAME_FPS,
                 ) -> list[VideoQAItem]:
    """MVBench questions from one task JSON or a folder of them (the release's `json/`)."""
    ann = Path(annotations)
    files = sorted(ann.glob("*.json")) if ann.is_dir() else [ann]
    if not files:
        raise FileNotFoundError(f"no MVBench task JSON files in {str(ann)!r}")
    items = []
    for path in files:
        task = path.stem
        where = f"MVBench {str(path)!r}"
        roots = _mvbench_roots(task, video_dir, where)
        known = MVBENCH_TASKS.get(task)
        for i, rec in enumerate(_read_records(path)):
            _need(rec, ("video", "question", "candidates", "answer"), where)
            options = tuple(str(c).strip() for c in rec["candidates"])
            if str(rec["answer"]).strip() not in options:
                raise ValueError(f"{where}: item {i} answer {rec['answer']!r} is not among candidates {list(options)}")
            video = _find_video(roots, [str(rec["video"])])
            is_frames = video.is_dir() or (known is not None and known[1] == "frame")
            clip = None
            if (known is None or known[2]) and rec.get("start") is not None and rec.get("end") is not None:
                clip = (float(rec["start"]), float(rec["end"]))
            items.append(VideoQAItem(
                qid=f"{task}-{i}", video=str(video), question=str(rec["question"]), options=options,
                answer=LETTERS[options.index(str(rec["answer"]).strip())], source="mvbench", category=task,
                clip=clip, frame_fps=_per_task(frame_fps, task) if is_frames else None, meta={"task": task}))
    return _check_files(items, missing, f"MVBench {str(ann)!r}")


# -- LongVideoBench -----------------------------------------------------------------------------------
def _lvb_options(rec: Mapping[str, Any]) -> list[str]:
    if isinstance(rec.get("candidates"), (list, tuple)):
        return [str(c) for c in rec["candidates"]]
    options = []
    for i in range(5):  # as lmms-eval reads the parquet: option0.. up to the first "N/A"
        opt = rec.get(f"option{i}")
        if opt is None or str(opt).strip() == "N/A":
            break
        options.append(str(opt))
    return options


def load_longvideobench(annotations: str | Path, video_dir: str | Path, *,
                        missing: Missing = "error") -> list[VideoQAItem]:
    """LongVideoBench questions from `lvb_val.json`, `lvb_test_wo_gt.json` or the HF parquet."""
    where = f"LongVideoBench {str(annotations)!r}"
    roots = [Path(video_dir), Path(video_dir) / "videos"]
    items = []
    for rec in _read_records(annotations):
        _need(rec, ("id", "video_path", "question", ("candidates", "option0")), where)
        options = _lvb_options(rec)
        choice = rec.get("correct_choice")
        if choice is not None and (not isinstance(choice, int) or not 0 <= choice < len(options)):
            raise ValueError(f"{where}: question {rec['id']!r} has correct_choice {choice!r}; "
                             f"expected an int in [0, {len(options)})")
        duration = rec.get("duration")
        items.append(VideoQAItem(
            qid=str(rec["id"]), video=str(_find_video(roots, [str(rec["video_path"])])),
            question=str(rec["question"]), options=tuple(options),
            answer=LETTERS[choice] if choice is not None else "", source="longvideobench",
            category=str(rec.get("question_category", "")),
            duration=float(duration) if duration is not None else None,
            duration_group=str(rec.get("duration_group", "")),
            meta={k: str(rec[k]) for k in ("video_id", "level", "topic_category") if k in rec}))
    return _check_files(items, missing, where)


LOADERS = {"videomme": load_videomme, "mvbench": load_mvbench, "longvideobench": load_longvideobench}
LOADER_OPTIONS = {"videomme": ("video_ids",), "mvbench": ("frame_fps",), "longvideobench": ()}


def load_benchmark(format: str, annotations: str | Path, video_dir: Any, *, missing: Missing = "error",
                   split: str = "test", **options: Any) -> TaskSuite:
    """A TaskSuite from one benchmark's annotations (`format`: videomme | mvbench | longvideobench);
    `options` go to its loader (videomme: `video_ids`; mvbench: `frame_fps`)."""
    if format not in LOADERS:
        raise ValueError(f"unknown benchmark format {format!r}; expected one of {sorted(LOADERS)}")
    unknown = set(options) - set(LOADER_OPTIONS[format])
    if unknown:
        raise ValueError(f"{format} loader takes no option(s) {sorted(unknown)}; it takes {list(LOADER_OPTIONS[format])}")
    return to_suite(LOADERS[format](annotations, video_dir, missing=missing, **options), name=format, split=split)
