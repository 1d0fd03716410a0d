"""`stepgym train tooluse-arpo-tiny`: ARPO's adaptive branching on ToolUse-v0, from the command line."""

from __future__ import annotations

import json

import pytest
import torch

import stepgym
from stepgym.cli import main
from stepgym.episodes.io import read_episodes
from stepgym.trainers.branching import BranchingRollouts, branch_of
from stepgym.trainers.config import PRESETS, preset
from stepgym.trainers.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
NAME = "tooluse-arpo-tiny"


def _rl(run_dir) -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["phase"] == "rl"]


def test_the_preset_is_arpo_scaled_down_and_held_out():
    cfg = preset(NAME)
    strategy = BranchingRollouts(cfg, **cfg.rollout_kwargs)
    assert (cfg.env_id, cfg.rollout, cfg.estimator, cfg.include_image) == ("stepgym/ToolUse-v0", "branching", "grpo", False)
    assert (strategy.tau, strategy.beta, strategy.beam_size, strategy.attribution) == (0.5, 0.2, 2, "soft")
    assert strategy.initial_rollouts * 2 == cfg.group_size  # ARPO's 8 of 16, halved
    assert cfg.num_envs >= cfg.tasks_per_iteration * cfg.group_size  # every branch finds a free env
    assert cfg.sft_episodes > 0
    env = stepgym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
    train, held_out = env.tasks.split(cfg.train_split), env.tasks.split(cfg.eval_split)
    env.close()
    assert len(held_out) >= cfg.eval_tasks and not {t.task_id for t in train} & {t.task_id for t in held_out}


def test_a_shrunk_run_branches_and_trains_only_informative_groups(tmp_path):
    """The preset with the smallest model and budget: SFT, then one branching iteration. Branch points
    are any step here (`branch_at="any_step"`, tau 1): an SFT this short leaves the model without
    valid tool calls, after which the preset's tool-response branch points would be."""
    cfg = preset(NAME, model="tiny:tiny", run_dir=str(tmp_path), sft_episodes=4, sft_epochs=1, iterations=1,
                 tasks_per_iteration=2, group_size=4, num_envs=8, eval_tasks=2, eval_every=1, max_new_tokens=8,
                 env_kwargs={"max_steps": 3, "max_response_chars": 200}, torch_threads=1,
                 rollout_kwargs={"initial_rollouts": 2, "tau": 1.0, "beta": 0.0, "branch_at": "any_step",
                                 "record_dir": str(tmp_path / "rollouts")})
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.run(stop_after=0)  # SFT and its evaluation
        after_sft = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
        trainer.run()
        after_rl = trainer.policy.model.state_dict()
    finally:
        trainer.close()
    (rl,) = _rl(tmp_path)
    assert rl["branches"] > 0 and rl["branches"] + rl["top_ups"] == 2 * (4 - 2)
    # a model this small fails every rollout: all groups are uninformative and none is trained
    # (rows_trained 0, weights unchanged; measured). A weight-change check needs informative groups.
    assert all(torch.equal(after_sft[k], after_rl[k]) for k in after_sft) == (rl["rows_trained"] == 0)
    eps = list(read_episodes(tmp_path / "rollouts" / "iteration_0000"))
    assert len(eps) == 8 and any(branch_of(e)[0] for e in eps)
    assert (tmp_path / "learning_curve.png").exists()


@pytest.mark.slow
def test_the_preset_runs_from_the_command_line(tmp_path):
    run_dir = tmp_path / "run"
    sets = ["model=tiny:tiny", "sft_episodes=8", "sft_epochs=1", "iterations=1", "tasks_per_iteration=2",
            "group_size=4", "num_envs=8", "eval_tasks=2", "max_new_tokens=8", "torch_threads=1"]
    assert main(["train", NAME, "--set", f"run_dir={run_dir}", *[a for s in sets for a in ("--set", s)]]) == 0
    assert [r["iteration"] for r in _rl(run_dir)] == [0]
    assert (run_dir / "learning_curve.png").stat().st_size > 10_000
    assert PRESETS[NAME]["rollout"] == "branching"
