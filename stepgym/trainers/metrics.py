"""The run's metrics log: one JSON object per line in `metrics.jsonl`, fsynced; TensorBoard optional.

Every record has a `phase`: "sft" (one per SFT epoch), "rl" (one per RL iteration) or "eval"
(one per evaluation). A resumed run first drops the RL and evaluation records written after the
checkpoint it resumes from, since it will write them again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, (np.floating, np.integer)) else value


class MetricsLog:
    """Appends records to `DIR/metrics.jsonl` (whole lines, fsynced) and mirrors RL scalars to TensorBoard."""

    def __init__(self, run_dir: str | Path, *, tensorboard: bool = False) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.tensorboard_dir = Path(run_dir) / "tensorboard" if tensorboard else None
        self._tb = None

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({k: _plain(v) for k, v in record.items()})
        with open(self.path, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.tensorboard_dir is not None and record.get("phase") == "rl":
            self._scalars(record)

    def _scalars(self, record: dict[str, Any]) -> None:
        if self._tb is None:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.tensorboard_dir))
        for k, v in record.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "iteration":
                self._tb.add_scalar(k, v, record["iteration"])

    def read(self) -> list[dict[str, Any]]:
        """Every record so far, in order."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def truncate(self, next_iteration: int) -> None:
        """Keep SFT records, the evaluations before RL and the RL records before `next_iteration`."""
        def kept(m: dict[str, Any]) -> bool:
            if m.get("phase") == "sft":
                return True
            if m.get("phase") == "eval" and not str(m.get("name", "")).startswith("iteration_"):
                return True
            return m.get("iteration", -1) < next_iteration

        records = [m for m in self.read() if kept(m)]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(m) + "\n" for m in records))
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
