"""A short training run on a tiny model: SFT lowers the loss, RL changes the weights, resume is exact."""

from __future__ import annotations

import json

import pytest
import torch

from stepgym.trainers.config import TrainConfig, preset
from stepgym.trainers.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _cfg(run_dir, **kw) -> TrainConfig:
    base = dict(model="tiny:tiny", run_dir=str(run_dir), sft_episodes=12, sft_epochs=3, sft_batch_size=16,
                iterations=2, tasks_per_iteration=2, group_size=4, num_envs=8, eval_tasks=4, eval_every=2,
                max_new_tokens=3, minibatch_size=32, system_prompt="Sokoban. Reply with a move.",
                env_kwargs={"image": False, "max_steps": 6})
    base.update(kw)
    return TrainConfig(**base)


def _rl_rows(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    drop = {"time_rollout", "time_update", "time_total"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    trainer = Trainer(_cfg(run_dir), progress=False)
    trainer.run(stop_after=0)  # SFT and its evaluation only
    after_sft = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
    results = trainer.run()
    trainer.close()
    return run_dir, after_sft, trainer, results


def test_sft_lowers_the_loss(finished_run):
    run_dir, *_ = finished_run
    sft = [r for r in _rl_rows(run_dir) if r["phase"] == "sft"]
    assert len(sft) == 3
    assert sft[-1]["sft_loss"] < sft[0]["sft_loss"]


def test_rl_changes_parameters_and_logs(finished_run):
    run_dir, after_sft, trainer, results = finished_run
    rl = [r for r in _rl_rows(run_dir) if r["phase"] == "rl"]
    assert [r["iteration"] for r in rl] == [0, 1]
    trained = [r for r in rl if r["rows_trained"] > 0]
    assert trained, "no iteration trained on any row: the test config gives RL nothing to learn from"
    after = trainer.policy.model.state_dict()
    assert any(not torch.equal(after_sft[k], after[k]) for k in after_sft)  # RL itself moved the weights
    for key in ("clip_fraction", "approx_kl", "entropy", "adv_abs_mean", "logprob_mismatch", "grad_norm"):
        assert key in trained[0], key
    assert trained[0]["adv_abs_mean"] > 0 and trained[0]["logprob_mismatch"] < 1e-3
    for key in ("rollout_success", "episode_length", "env_steps", "groups_dropped", "infra_failures"):
        assert key in rl[0], key
    assert set(results) >= {"before_sft", "after_sft", "final"}
    assert (run_dir / "learning_curve.png").stat().st_size > 1000
    assert (run_dir / "checkpoint" / "model" / "config.json").exists()
    assert not (run_dir / "checkpoint.tmp").exists()
    assert (run_dir / "eval" / "iteration_1" / "episodes.jsonl").exists()


def test_resume_equals_uninterrupted(finished_run, tmp_path):
    run_dir, *_ = finished_run
    cut = Trainer(_cfg(tmp_path), progress=False)
    cut.run(stop_after=1)
    cut.close()
    resumed = Trainer.resume(tmp_path, progress=False)
    resumed.run()
    resumed.close()
    assert _rl_rows(tmp_path) == _rl_rows(run_dir)
    a = Trainer.resume(run_dir, progress=False).policy.model.state_dict()
    b = resumed.policy.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="group_size=0"):
        TrainConfig(group_size=0)
    with pytest.raises(ValueError, match="unknown TrainConfig fields \\['bogus'\\]"):
        TrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer.resume(tmp_path)


def test_env_step_budget_stops_rl_and_evaluates_the_last_iteration(tmp_path):
    # each iteration plays 2 tasks x 4 episodes of at most 6 steps, so a budget of 1 step is spent
    # by the first iteration, which must then be evaluated and reported as final
    trainer = Trainer(_cfg(tmp_path, sft_episodes=0, iterations=5, eval_every=5, env_step_budget=1), progress=False)
    results = trainer.run()
    trainer.close()
    rl = [r for r in _rl_rows(tmp_path) if r["phase"] == "rl"]
    assert [r["iteration"] for r in rl] == [0]
    assert rl[0]["env_steps"] >= 1 and "eval_success" in rl[0]
    assert results["final"] == rl[0]["eval_success"]
    with pytest.raises(ValueError, match="env_step_budget=0"):
        TrainConfig(env_step_budget=0)
