"""`stepgym train videosearch-gigpo-tiny`: a video agent that asks for frames, then answers, trained
by SFT on oracle recordings and GiGPO, scored on held-out videos."""

from __future__ import annotations

import json

import pytest
import torch

import stepgym
from stepgym.cli import main
from stepgym.episodes.io import read_episodes
from stepgym.runner import replay_inputs
from stepgym.trainers.config import PRESETS, preset
from stepgym.trainers.sft import record_demos, sft_examples
from stepgym.trainers.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
NAME = "videosearch-gigpo-tiny"


def _records(run_dir) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _evals(run_dir) -> dict[str, dict]:
    return {r["name"]: r for r in _records(run_dir) if r["phase"] == "eval"}


def _answers_scored_by_the_env(eval_dir) -> int:
    """Checks every answered held-out episode's reward against its task's answer; returns how many answered."""
    env = stepgym.make(PRESETS[NAME]["env_id"], **PRESETS[NAME]["env_kwargs"]).unwrapped
    truth = {t.task_id: t.data["answer"] for t in env.tasks}
    env.close()
    answered = 0
    for ep in read_episodes(eval_dir):
        last = ep.steps[-1]
        if last.action_valid and (last.parsed_action or {}).get("op") == "answer":
            answered += 1
            right = last.parsed_action["answer"] == truth[ep.task_id]
            assert ep.success == right and last.reward == float(right), (ep.task_id, last.action)
        else:
            assert not ep.success and ep.total_reward <= 0.0
    return answered


def test_the_held_out_videos_are_not_trained_on():
    env = stepgym.make(PRESETS[NAME]["env_id"], **PRESETS[NAME]["env_kwargs"]).unwrapped
    train, held_out = env.tasks.split(PRESETS[NAME]["train_split"]), env.tasks.split(PRESETS[NAME]["eval_split"])
    env.close()
    assert len(held_out) >= PRESETS[NAME]["eval_tasks"] and len(train) > len(held_out)
    assert not {t.data["video"] for t in train} & {t.data["video"] for t in held_out}


def test_sft_clones_the_video_policy_on_the_frames_it_sees(tmp_path):
    """A record keeps no frames: the demos are replayed, so each SFT prompt holds the video the policy saw."""
    cfg = preset(NAME, model="tiny:tiny", run_dir=str(tmp_path))
    demos = record_demos(tmp_path / "demos", cfg.env_id, {**cfg.env_kwargs, "split": "train"}, [3, 4], num_envs=2)
    assert json.loads((demos / "replay.json").read_text())["observations"] == ["frames"]
    trainer = Trainer(cfg, progress=False)
    try:
        examples = sft_examples(trainer.policy, demos)
        env = stepgym.make(cfg.env_id, **{**cfg.env_kwargs, "split": "train"})
        live = [p for ep in read_episodes(demos) for p in trainer.policy.encode(replay_inputs(env, ep))]
        env.close()
    finally:
        trainer.close()
    assert examples and all(p.pixel_values_videos is not None for p, _ in examples)
    # the same prompts (ids and pixels) as the policy encodes from the live observations
    assert sorted(p.ids for p, _ in examples) == sorted(p.ids for p in live)


def test_the_preset_runs_end_to_end_from_the_command_line(tmp_path):
    """Smoke run, shrunk: every stage writes what a user looks at."""
    run_dir = tmp_path / "run"
    sets = ["model=tiny:tiny", "sft_episodes=6", "sft_epochs=1", "iterations=1", "tasks_per_iteration=2",
            "group_size=2", "num_envs=4", "eval_tasks=2", "before_sft_eval_tasks=1", "max_new_tokens=12",
            "torch_threads=1"]
    assert main(["train", NAME, "--set", f"run_dir={run_dir}", *[a for s in sets for a in ("--set", s)]]) == 0
    assert set(_evals(run_dir)) == {"before_sft", "after_sft", "iteration_0"}
    assert [r["iteration"] for r in _records(run_dir) if r["phase"] == "rl"] == [0]
    assert (run_dir / "learning_curve.png").stat().st_size > 10_000
    held_out = list(read_episodes(run_dir / "eval" / "iteration_0"))
    assert [e.env_id for e in held_out] == ["stepgym/VideoSearch-v0"] * 2
    _answers_scored_by_the_env(run_dir / "eval" / "iteration_0")
    assert main(["view", str(run_dir / "eval" / "iteration_0")]) == 0
    assert "gen-" in (run_dir / "eval" / "iteration_0" / "index.html").read_text()


@pytest.mark.slow
def test_sft_then_gigpo_teaches_the_video_agent(tmp_path):
    """The preset's SFT, then two GiGPO iterations: SFT lifts held-out accuracy over the untrained
    model, RL steps carry nonzero advantages and change the weights, and the env scores the answers."""
    cfg = preset(NAME, run_dir=str(tmp_path), iterations=2, eval_every=2)
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.run(stop_after=0)  # SFT and its evaluations
        after_sft = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
        trainer.run()
        after_rl = trainer.policy.model.state_dict()
    finally:
        trainer.close()
    evals = _evals(tmp_path)
    assert evals["before_sft"]["eval_invalid_rate"] > 0.9  # the untrained model cannot even ask for frames
    assert evals["after_sft"]["eval_success"] > evals["before_sft"]["eval_success"]
    assert evals["after_sft"]["eval_invalid_rate"] < 0.5
    rl = [r for r in _records(tmp_path) if r["phase"] == "rl"]
    assert [r["iteration"] for r in rl] == [0, 1]
    assert all(r["rows_trained"] > 0 and r["adv_abs_mean"] > 0 for r in rl)
    assert any(not torch.equal(after_sft[k], after_rl[k]) for k in after_sft)
    assert "gain_vs_sft" in evals["iteration_1"]
    assert _answers_scored_by_the_env(tmp_path / "eval" / "iteration_1") >= cfg.eval_tasks // 2
    assert (tmp_path / "learning_curve.png").exists()
