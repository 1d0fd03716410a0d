"""Loaders for Video-MME, MVBench and LongVideoBench annotation files pointing at local videos.

Each returns `VideoQAItem`s with option texts (no letters), the answer letter and the video
file's path; `to_suite` turns them into a `TaskSuite` that VideoQA-v0 / VideoSearch-v0 read.

Schemas (field names as the benchmarks publish them):

- Video-MME: per video `video_id`, `videoID` (file stem), `duration` (short/medium/long),
  `domain`, `sub_category`, `questions`: [{question_id, task_type, question,
  options ["A. ...", ...], answer "A"}]. The flat one-row-per-question form (the parquet)
  is read too.
- MVBench: one JSON list per task: [{video, question, candidates [...], answer (a candidate's
  text), optional start/end seconds}]; the task name is the file stem.
- LongVideoBench: flat rows with `id`, `video_path`, `question`, `option0`..`option4` ("N/A" when
  unused), `correct_choice` (an int), `duration`, `duration_group`, `question_category`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stepgym.envs.tasks import Task, TaskSuite

LETTERS = "ABCDEFGH"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")
Missing = Literal["error", "skip", "keep"]
_LETTER_PREFIX = re.compile(r"^\s*\(?([A-H])[.):]\s*")


@dataclass(frozen=True)
class VideoQAItem:
    """One multiple-choice question about one local video."""

    qid: str
    video: str  # path of the video file
    question: str
    options: tuple[str, ...]  # option texts without their letters
    answer: str  # correct letter
    source: str  # videomme | mvbench | longvideobench | generated
    category: str = ""
    duration: float | None = None  # seconds, when known
    duration_group: str = ""
    clip: tuple[float, float] | None = None  # the question is about this part only (seconds)
    evidence: tuple[float, float] | None = None

    def to_task(self, split: str = "test") -> Task:
        """The VideoQA task record for this item."""
        data: dict[str, Any] = {"video": self.video, "options": list(self.options), "answer": self.answer,
                                "source": self.source, "category": self.category,
                                "duration_group": self.duration_group}
        if self.duration is not None:
            data["duration"] = self.duration
        if self.clip is not None:
            data["clip"] = list(self.clip)
        if self.evidence is not None:
            data["evidence"] = list(self.evidence)
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


def _need(record: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise ValueError(f"{where}: record lacks {missing}; has {sorted(record)}")


def _find_video(video_dir: Path, stems: Iterable[str]) -> Path:
    """The first existing file `video_dir/stem(.ext)`; the first candidate when none exists."""
    candidates = []
    for stem in stems:
        if not stem:
            continue
        p = video_dir / stem
        candidates.append(p)
        if p.suffix.lower() not in VIDEO_EXTENSIONS:
            candidates += [video_dir / f"{stem}{ext}" for ext in VIDEO_EXTENSIONS]
    for p in candidates:
        if p.is_file():
            return p
    return candidates[0]


def _check_files(items: list[VideoQAItem], missing: Missing, what: str) -> list[VideoQAItem]:
    if missing not in ("error", "skip", "keep"):
        raise ValueError(f"missing must be 'error', 'skip' or 'keep', got {missing!r}")
    if missing == "keep":
        return items
    absent = [it for it in items if not Path(it.video).is_file()]
    if absent and missing == "error":
        raise FileNotFoundError(
            f"{what}: {len(absent)} of {len(items)} questions point at missing videos, e.g. "
            f"{absent[0].video!r}; pass missing='skip' to drop them"
        )
    gone = {id(it) for it in absent}
    return [it for it in items if id(it) not in gone]


def _strip_letter(option: str, i: int) -> str:
    m = _LETTER_PREFIX.match(option)
    if m and m.group(1) == LETTERS[i]:
        return option[m.end():].strip()
    return option.strip()


# -- Video-MME ----------------------------------------------------------------------------------------
def load_videomme(annotations: str | Path, video_dir: str | Path, *, missing: Missing = "error") -> list[VideoQAItem]:
    """Video-MME questions (nested per-video JSON, or flat rows: JSON/JSONL/parquet)."""
    where = f"Video-MME {str(annotations)!r}"
    items = []
    for rec in _read_records(annotations):
        questions = rec.get("questions")
        rows = [{**rec, **q} for q in questions] if isinstance(questions, list) else [rec]
        for row in rows:
            _need(row, ("question_id", "question", "options", "answer"), where)
            options = tuple(_strip_letter(o, i) for i, o in enumerate(row["options"]))
            answer = str(row["answer"]).strip().upper()
            if answer not in LETTERS[: len(options)]:
                raise ValueError(f"{where}: question {row['question_id']!r} has answer {row['answer']!r}; "
                                 f"expected one of {LETTERS[:len(options)]}")
            video = _find_video(Path(video_dir), (str(row.get("videoID", "")), str(row.get("video_id", ""))))
            items.append(VideoQAItem(
                qid=str(row["question_id"]), video=str(video), question=str(row["question"]),
                options=options, answer=answer, source="videomme", category=str(row.get("task_type", "")),
                duration_group=str(row.get("duration", ""))))
    return _check_files(items, missing, where)


# -- MVBench ------------------------------------------------------------------------------------------
def load_mvbench(annotations: str | Path, video_dir: str | Path | Mapping[str, str | Path], *,
                 missing: Missing = "error") -> list[VideoQAItem]:
    """MVBench questions from one task JSON or a folder of them; `video_dir` is a folder or a
    {task name: folder} map (each MVBench task keeps its videos in its own folder)."""
    ann = Path(annotations)
    files = sorted(ann.glob("*.json")) if ann.is_dir() else [ann]
    if not files:
        raise FileNotFoundError(f"no MVBench task JSON files in {str(ann)!r}")
    items = []
    for path in files:
        task = path.stem
        where = f"MVBench {str(path)!r}"
        if isinstance(video_dir, Mapping):
            if task not in video_dir:
                raise KeyError(f"{where}: no video folder for task {task!r}; video_dir names {sorted(video_dir)}")
            root = Path(video_dir[task])
        else:
            root = Path(video_dir)
        for i, rec in enumerate(_read_records(path)):
            _need(rec, ("video", "question", "candidates", "answer"), where)
            options = tuple(str(c) for c in rec["candidates"])
            if rec["answer"] not in options:
                raise ValueError(f"{where}: item {i} answer {rec['answer']!r} is not among candidates {list(options)}")
            clip = None
            if rec.get("start") is not None and rec.get("end") is not None:
                clip = (float(rec["start"]), float(rec["end"]))
            items.append(VideoQAItem(
                qid=f"{task}-{i}", video=str(root / rec["video"]), question=str(rec["question"]),
                options=options, answer=LETTERS[options.index(rec["answer"])], source="mvbench",
                category=task, clip=clip))
    return _check_files(items, missing, f"MVBench {str(ann)!r}")


# -- LongVideoBench -----------------------------------------------------------------------------------
def load_longvideobench(annotations: str | Path, video_dir: str | Path, *,
                        missing: Missing = "error") -> list[VideoQAItem]:
    """LongVideoBench questions (flat rows with option0..option4 and an int correct_choice)."""
    where = f"LongVideoBench {str(annotations)!r}"
    items = []
    for rec in _read_records(annotations):
        _need(rec, ("id", "video_path", "question", "option0", "correct_choice"), where)
        options = []
        for i in range(5):
            opt = rec.get(f"option{i}")
            if opt is None or str(opt).strip() == "N/A":
                break
            options.append(str(opt))
        choice = rec["correct_choice"]
        if not isinstance(choice, int) or not 0 <= choice < len(options):
            raise ValueError(f"{where}: question {rec['id']!r} has correct_choice {choice!r}; "
                             f"expected an int in [0, {len(options)})")
        duration = rec.get("duration")
        items.append(VideoQAItem(
            qid=str(rec["id"]), video=str(Path(video_dir) / rec["video_path"]), question=str(rec["question"]),
            options=tuple(options), answer=LETTERS[choice], source="longvideobench",
            category=str(rec.get("question_category", "")),
            duration=float(duration) if duration is not None else None,
            duration_group=str(rec.get("duration_group", ""))))
    return _check_files(items, missing, where)


LOADERS = {"videomme": load_videomme, "mvbench": load_mvbench, "longvideobench": load_longvideobench}


def load_benchmark(format: str, annotations: str | Path, video_dir: Any, *, missing: Missing = "error",
                   split: str = "test") -> TaskSuite:
    """A TaskSuite from one benchmark's annotations (`format`: videomme | mvbench | longvideobench)."""
    if format not in LOADERS:
        raise ValueError(f"unknown benchmark format {format!r}; expected one of {sorted(LOADERS)}")
    return to_suite(LOADERS[format](annotations, video_dir, missing=missing), name=format, split=split)
