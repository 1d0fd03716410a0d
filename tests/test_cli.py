from __future__ import annotations

import json

import pytest

from stepgym.cli import main
from stepgym.episodes import read_episodes


def test_envs_lists_ids(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "stepgym/Sokoban-v0" in out and "one box" in out


def test_play_oracle_records_and_summarises(tmp_path, capsys):
    rec = tmp_path / "rec"
    assert main(["play", "stepgym/Sokoban-v0", "--policy", "oracle", "--episodes", "8", "--seed", "3",
                 "--record", str(rec), "--json"]) == 0
    out = capsys.readouterr().out
    assert "success" in out and "invalid actions" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["success_rate"] == 1.0 and summary["invalid_action_rate"] == 0.0
    eps = list(read_episodes(rec))
    assert sorted(e.seed for e in eps) == list(range(3, 11))
    assert all((rec / e.steps[0].image).exists() for e in eps)


def test_eval_random_reports_interval_and_per_task(capsys):
    assert main(["eval", "stepgym/Sokoban-v0", "--policy", "random", "--episodes", "12",
                 "--split", "test", "--json"]) == 0
    out = capsys.readouterr().out
    summary = json.loads(out.strip().splitlines()[-1])
    lo, hi = summary["success_ci"]
    assert 0.0 <= lo <= summary["success_rate"] <= hi <= 1.0
    assert summary["success_rate"] < 1.0
    assert "per task" in out and "sokoban_6x6_1box-test-" in out


def test_view_writes_report(tmp_path, capsys):
    main(["play", "stepgym/Sokoban-v0", "--episodes", "2", "--record", str(tmp_path)])
    assert main(["view", str(tmp_path)]) == 0
    assert "<img" in (tmp_path / "index.html").read_text()


def test_bad_arguments_are_clear(capsys):
    with pytest.raises(SystemExit, match="--episodes must be >= 1"):
        main(["play", "stepgym/Sokoban-v0", "--episodes", "0"])
    with pytest.raises(SystemExit, match="JSON object"):
        main(["play", "stepgym/Sokoban-v0", "--env-kwargs", "max_steps=3"])
    with pytest.raises(ValueError, match="unknown policy 'gpt'"):
        main(["play", "stepgym/Sokoban-v0", "--policy", "gpt"])


TINY = ["--set", "model=tiny:tiny", "--set", "sft_episodes=6", "--set", "sft_epochs=1", "--set", "eval_tasks=3",
        "--set", "tasks_per_iteration=1", "--set", "group_size=2", "--set", "num_envs=4",
        "--set", "max_new_tokens=2", "--set", "iterations=1", "--set", 'env_kwargs={"image": false, "max_steps": 4}']


def test_demo_trains_and_reports_three_stages(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), *TINY]) == 0
    out = capsys.readouterr().out
    assert "before SFT" in out and "after SFT" in out and "after RL" in out
    assert "RL - SFT, same levels" in out and "points [" in out  # the paired gain and its interval
    assert (tmp_path / "learning_curve.png").exists()
    assert (tmp_path / "eval" / "after_sft" / "index.html").exists()


def test_train_preset_then_resume_extends_the_run(tmp_path, capsys):
    assert main(["train", "sokoban-grpo-tiny", "--run-dir", str(tmp_path), *TINY]) == 0
    assert "held-out success" in capsys.readouterr().out
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["estimator"] == "grpo" and cfg["iterations"] == 1
    # a user runs a finished run on by raising its budget; nothing else of the run may change
    with pytest.raises(ValueError, match=r"cannot change \['lr'\].*may change: \['checkpoint_every'"):
        main(["train", "--resume", str(tmp_path), "--set", "iterations=2", "--set", "lr=0.1"])
    with pytest.raises(ValueError, match="iterations=0 is below the 1 iterations"):
        main(["train", "--resume", str(tmp_path), "--set", "iterations=0"])
    with pytest.raises(SystemExit, match="drop 'sokoban-grpo-tiny'"):
        main(["train", "sokoban-grpo-tiny", "--resume", str(tmp_path)])
    assert main(["train", "--resume", str(tmp_path), "--set", "iterations=2"]) == 0
    rl = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rl if r["phase"] == "rl"] == [0, 1]
    assert json.loads((tmp_path / "config.json").read_text())["iterations"] == 2


def test_train_needs_config_or_resume():
    with pytest.raises(SystemExit, match="preset"):
        main(["train"])
    with pytest.raises(ValueError, match="unknown preset"):
        main(["train", "no-such-preset"])
