"""Data-parallel updates under torchrun on CPU (gloo): N processes make the update one process makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_update.py")


def _torchrun(nproc: int, out: Path, *extra: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(SCRIPT), str(out), *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_two_processes_make_the_update_of_one(tmp_path):
    _torchrun(1, tmp_path / "one")
    _torchrun(2, tmp_path / "two")
    one = torch.load(tmp_path / "one" / "weights.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "weights.pt", weights_only=True)
    s1, s2 = (json.loads((tmp_path / d / "stats.json").read_text()) for d in ("one", "two"))
    assert s1["rows"] == s2["rows"] > 0
    assert s2["loss"] == pytest.approx(s1["loss"], abs=1e-6)
    assert s2["grad_norm"] == pytest.approx(s1["grad_norm"], rel=1e-4)
    before = torch.load(tmp_path / "one" / "before.pt", weights_only=True)
    assert any(not torch.equal(before[k], one[k]) for k in one)  # the update moved the weights
    for k in one:
        assert torch.allclose(one[k], two[k], atol=1e-6), k


@pytest.mark.slow
def test_a_whole_run_under_torchrun(tmp_path):
    # SFT, two RL iterations, evaluations and checkpoints with two ranks: no rank waits forever,
    # rank 0 alone writes the run directory
    _torchrun(2, tmp_path, "full")
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results) >= {"before_sft", "after_sft", "iteration_0", "iteration_1", "final"}
    metrics = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["iteration"] for m in metrics if m["phase"] == "rl"] == [0, 1]
    assert (tmp_path / "run" / "checkpoint" / "state.json").exists()
