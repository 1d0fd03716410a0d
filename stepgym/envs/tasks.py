"""Tasks are data: a `Task` per record, grouped into a `TaskSuite` with named splits."""

from __future__ import annotations

import difflib
import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_RESERVED = ("task_id", "instruction", "split")


@dataclass(frozen=True)
class Task:
    """One task: an id, the instruction the agent reads, its split and env-specific `data`."""

    task_id: str
    instruction: str
    split: str = "train"
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    @classmethod
    def from_record(cls, record: dict[str, Any], default_split: str = "train") -> Task:
        """Build from a JSON record: `task_id`, `instruction`, optional `split`; the rest is `data`."""
        missing = [k for k in ("task_id", "instruction") if k not in record]
        if missing:
            raise ValueError(f"task record lacks {missing}; expected keys task_id, instruction: {record!r:.200}")
        data = {k: v for k, v in record.items() if k not in _RESERVED}
        if "data" in data and isinstance(data["data"], dict) and len(data) == 1:
            data = data["data"]
        return cls(
            task_id=str(record["task_id"]),
            instruction=str(record["instruction"]),
            split=str(record.get("split", default_split)),
            data=data,
        )

    def to_record(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "instruction": self.instruction, "split": self.split, **self.data}


class TaskSuite:
    """An ordered, id-indexed collection of tasks with named splits (train / val / test, ...)."""

    def __init__(self, tasks: Iterable[Task], name: str = "tasks") -> None:
        self.name = name
        self._tasks: list[Task] = list(tasks)
        self._by_id: dict[str, Task] = {}
        for t in self._tasks:
            if t.task_id in self._by_id:
                raise ValueError(f"duplicate task_id {t.task_id!r} in suite {name!r}")
            self._by_id[t.task_id] = t

    # -- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path, name: str | None = None) -> TaskSuite:
        """Read a `.json` (a list of records) or `.jsonl` file, optionally gzip-compressed."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"task file {str(path)!r} does not exist")
        opener = gzip.open if path.suffix == ".gz" else open
        stem = path.name.removesuffix(".gz")
        with opener(path, "rt", encoding="utf-8") as f:
            if stem.endswith(".jsonl"):
                records = [json.loads(line) for line in f if line.strip()]
            elif stem.endswith(".json"):
                records = json.load(f)
                if isinstance(records, dict) and "tasks" in records:
                    records = records["tasks"]
            else:
                raise ValueError(f"task file {str(path)!r}: expected a .json or .jsonl(.gz) file")
        return cls((Task.from_record(r) for r in records), name=name or stem.split(".")[0])

    @classmethod
    def resolve(cls, source: str | Path | TaskSuite, builtin: Callable[[str], TaskSuite]) -> TaskSuite:
        """The suite `source` names: a `TaskSuite` as is, a .json / .jsonl(.gz) path loaded from
        disk, anything else a built-in suite name handed to `builtin` (the env's own loader)."""
        if isinstance(source, TaskSuite):
            return source
        if str(source).endswith((".jsonl", ".json", ".gz")):
            return cls.load(source)
        return builtin(str(source))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as f:
            for t in self._tasks:
                f.write(json.dumps(t.to_record(), sort_keys=True) + "\n")

    # -- access ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)

    def __getitem__(self, i: int) -> Task:
        return self._tasks[i]

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._by_id

    def get(self, task_id: str) -> Task:
        """The task with this id; a `KeyError` that names close ids otherwise."""
        try:
            return self._by_id[task_id]
        except KeyError:
            close = difflib.get_close_matches(str(task_id), list(self._by_id), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise KeyError(
                f"task_id {task_id!r} is not in suite {self.name!r} ({len(self)} tasks).{hint}"
            ) from None

    @property
    def ids(self) -> list[str]:
        return [t.task_id for t in self._tasks]

    def splits(self) -> list[str]:
        return sorted({t.split for t in self._tasks})

    def split(self, name: str) -> TaskSuite:
        """The tasks of one split (`"all"` for every task)."""
        if name == "all":
            return self
        tasks = [t for t in self._tasks if t.split == name]
        if not tasks:
            raise ValueError(f"split {name!r} is empty in suite {self.name!r}; splits: {self.splits()}")
        return TaskSuite(tasks, name=f"{self.name}:{name}")

    def sample(self, rng: np.random.Generator | int | None, n: int = 1, replace: bool = False) -> list[Task]:
        """`n` tasks drawn with a seed or generator (deterministic for the same seed)."""
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        if not replace and n > len(self):
            raise ValueError(f"cannot sample {n} distinct tasks from {len(self)} in {self.name!r}")
        idx = rng.choice(len(self), size=n, replace=replace)
        return [self._tasks[int(i)] for i in idx]

    def __repr__(self) -> str:
        return f"TaskSuite({self.name!r}, {len(self)} tasks, splits={self.splits()})"
