"""Atomic checkpoints: model, processor, optimizer, reference model and the run's state.

A checkpoint is written into `checkpoint.tmp/` and renamed over `checkpoint/`, so a crash leaves
either the previous checkpoint or the new one, never a mixture.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint"


def write_checkpoint(run_dir: str | Path, *, model, processor, optimizer: torch.optim.Optimizer,
                     state: dict[str, Any], reference=None) -> Path:
    """Write everything a resume needs under `run_dir/checkpoint/`, atomically; returns that folder."""
    run_dir = Path(run_dir)
    tmp, final, old = run_dir / f"{CHECKPOINT}.tmp", run_dir / CHECKPOINT, run_dir / f"{CHECKPOINT}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_pretrained(tmp / "model")
    processor.save_pretrained(tmp / "model")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    if reference is not None:
        reference.save_pretrained(tmp / "reference")
        processor.save_pretrained(tmp / "reference")
    (tmp / "state.json").write_text(json.dumps(state, indent=2))
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(run_dir: str | Path) -> dict[str, Any]:
    """The state saved by the last checkpoint of `run_dir`; FileNotFoundError naming what is missing."""
    path = Path(run_dir) / CHECKPOINT / "state.json"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint in {str(run_dir)!r} (expected {path})")
    return json.loads(path.read_text())
