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


def test_demo_runs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--episodes", "6"]) == 0
    out = capsys.readouterr().out
    assert "oracle" in out and "random" in out
    assert (tmp_path / "oracle" / "index.html").exists()
