"""`stepgym train mobile-branching-tiny`: ARPO's adaptive branching on a GUI env (Mobile-v0), where a
branch may start after any step and the phone is forked by replaying its prefix."""

from __future__ import annotations

import json

import pytest

import stepgym
from stepgym.cli import main
from stepgym.episodes.io import read_episodes
from stepgym.trainers.branching import BranchingRollouts, branch_of
from stepgym.trainers.config import preset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
NAME = "mobile-branching-tiny"


def test_the_preset_branches_after_any_step_on_held_out_parameters():
    cfg = preset(NAME)
    strategy = BranchingRollouts(cfg, **cfg.rollout_kwargs)
    assert (cfg.env_id, cfg.rollout, strategy.branch_at) == ("stepgym/Mobile-v0", "branching", "any_step")
    assert strategy.initial_rollouts < cfg.group_size  # a budget left to branch with
    train = stepgym.make(cfg.env_id, **cfg.env_kwargs).unwrapped
    held_out = stepgym.make(cfg.env_id, **{**cfg.env_kwargs, **cfg.eval_env_kwargs}).unwrapped
    assert (train.param_split, held_out.param_split) == ("train", "test")
    train.close()
    held_out.close()


def test_a_shrunk_run_from_the_command_line_forks_the_phone(tmp_path):
    run_dir = tmp_path / "run"
    sets = ["model=tiny:tiny", "sft_episodes=4", "sft_epochs=1", "iterations=1", "tasks_per_iteration=2",
            "num_envs=8", "eval_tasks=2", "max_new_tokens=8", "torch_threads=1",
            'env_kwargs={"templates": ["ClockToggleAlarm", "SettingsToggle"], "param_split": "train", "max_steps": 3}',
            'rollout_kwargs={"initial_rollouts": 2, "tau": 1.0, "beta": 0.0, "branch_at": "any_step", '
            f'"record_dir": "{tmp_path / "rollouts"}"}}']
    assert main(["train", NAME, "--set", f"run_dir={run_dir}", *[a for s in sets for a in ("--set", s)]]) == 0
    (rl,) = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()
             if json.loads(x)["phase"] == "rl"]
    # tau 1: every step of a budgeted rollout is a branch point, so the whole budget branches
    assert rl["branches"] == 2 * (4 - 2) and rl["fork_failures"] == 0
    eps = list(read_episodes(tmp_path / "rollouts" / "iteration_0000"))
    by_id = {e.episode_id: e for e in eps}
    branched = [e for e in eps if branch_of(e)[0]]
    assert len(eps) == 8 and branched
    for e in branched:  # a branch replays its parent's actions up to the branch step, then acts itself
        parent, step = branch_of(e)
        assert [s.action for s in e.steps[:step]] == [s.action for s in by_id[parent].steps[:step]]
