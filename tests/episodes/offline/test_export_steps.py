"""Recordings exported as single-step training tasks for OfflineSteps-v0."""

from __future__ import annotations

import json

import pytest

from stepgym.envs.offline_steps import OfflineStepsEnv, score_completion
from stepgym.episodes import read_episodes
from stepgym.episodes.offline.export import export_steps


def test_exported_steps_replay_as_one_step_episodes_with_screenshots(mobile_recording, tmp_path):
    path = export_steps(mobile_recording, tmp_path / "steps", images=True, test_fraction=0.5)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    recorded = list(read_episodes(mobile_recording))
    assert len(records) == sum(e.num_steps for e in recorded)
    assert {r["split"] for r in records} <= {"train", "test"}
    assert all((tmp_path / "steps" / r["image"]).is_file() for r in records)
    # the same recording exports the same ids and splits (they come from task and seed, not random ids)
    again = [json.loads(line) for line in export_steps(mobile_recording, tmp_path / "again", images=False).read_text().splitlines()]
    assert [r["task_id"] for r in again] == [r["task_id"] for r in records]
    env = OfflineStepsEnv(data=tmp_path / "steps", image=True)
    for task in env.tasks:
        obs, _ = env.reset(options={"task_id": task.task_id})
        assert obs["image"].shape == (640, 360, 3)
        _, reward, term, _, info = env.step(env.oracle_action())
        assert term and info["success"] and reward == pytest.approx(1.0)
    # a click on another element than the demonstrated one keeps format and type only
    click = next(r for r in records if r["gt"]["action_type"] == "click")
    target = next(e["bbox"] for e in click["elements"] if e["index"] == click["gt"]["index"])
    left, top, right, bottom = target

    def apart(box):  # no overlap with the demonstrated element
        return box[2] < left or box[0] > right or box[3] < top or box[1] > bottom

    other = next(e["index"] for e in click["elements"] if apart(e["bbox"]))
    assert score_completion(json.dumps({"action_type": "click", "index": other}), click) == pytest.approx(2 / 3)
    env.close()


def test_export_refuses_an_empty_recording(tmp_path):
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "episodes.jsonl").write_text("")
    with pytest.raises(ValueError, match="no recorded GUI steps"):
        export_steps(tmp_path / "rec", tmp_path / "out")
