"""Registration of built-in and third-party envs, and the errors for unknown ids."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import gymnasium
import pytest

import stepgym
from stepgym.cli import main as cli_main
from stepgym.envs import ActionError, Outcome, StepEnv, Task, TaskSuite


class CounterEnv(StepEnv):
    """Count up to a target, then say done (a third-party env defined in a test module)."""

    action_doc = "Reply with `inc` or `done`."
    action_examples = ("inc", "done")

    def __init__(self, target: int = 3, **kw):
        tasks = TaskSuite([Task(f"count-{t}", f"Count to {t}", data={"target": t}) for t in (2, 3, 4)])
        super().__init__(tasks, **kw)

    def _load_task(self, task):
        self.n, self.target = 0, task.data["target"]

    def parse_action(self, action):
        word = action.strip() if isinstance(action, str) else action.get("op")
        if word not in ("inc", "done"):
            raise ActionError(f"expected `inc` or `done`, got {str(action)[:40]!r}")
        return {"op": word}

    def _apply(self, parsed):
        if parsed["op"] == "inc":
            self.n += 1
            return Outcome()
        ok = self.n == self.target
        return Outcome(reward=float(ok), terminated=True, success=ok)

    def _observe_text(self):
        return f"{self.task.instruction}. count={self.n}"

    def state_key(self):
        return str(self.n)

    def oracle_action(self):
        return "inc" if self.n < self.target else "done"


stepgym.register("thirdparty/Counter-v0", entry_point=CounterEnv, max_episode_steps=12)


def test_gymnasium_make_after_import():
    env = gymnasium.make("stepgym/Sokoban-v0")
    obs, info = env.reset(seed=0)
    assert "Push every box" in obs["text"]


def test_unknown_id_suggests_close_ids():
    with pytest.raises(stepgym.UnknownEnvError, match="Did you mean.*stepgym/Sokoban-v0"):
        stepgym.make("stepgym/Sokoban-v9")
    with pytest.raises(stepgym.UnknownEnvError, match="not registered"):
        stepgym.make("totally/Unknown-v0")


def test_register_needs_version():
    with pytest.raises(ValueError, match="version"):
        stepgym.register("thirdparty/NoVersion", entry_point=CounterEnv)


def test_third_party_env_is_listed_and_described():
    assert "thirdparty/Counter-v0" in stepgym.list_envs()
    assert stepgym.describe("thirdparty/Counter-v0").startswith("Count up to a target")


def test_third_party_env_plays_through_cli(tmp_path, capsys):
    rec = tmp_path / "rec"
    assert cli_main(["play", "thirdparty/Counter-v0", "--policy", "oracle", "--episodes", "6",
                     "--record", str(rec), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["success_rate"] == 1.0 and summary["episodes"] == 6
    assert len((rec / "episodes.jsonl").read_text().splitlines()) == 6


def test_third_party_env_in_worker_processes(capsys):
    assert cli_main(["eval", "thirdparty/Counter-v0", "--policy", "oracle", "--episodes", "4",
                     "--backend", "process", "--num-envs", "2", "--import", __name__, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["success_rate"] == 1.0


def test_module_colon_id_from_a_users_file(tmp_path):
    (tmp_path / "myenvs.py").write_text(textwrap.dedent('''
        import stepgym
        from stepgym.envs.sokoban import SokobanEnv
        stepgym.register("mine/Boxes-v0", entry_point=SokobanEnv, kwargs={"max_steps": 30})
    '''))
    out = subprocess.run(
        [sys.executable, "-m", "stepgym", "play", "myenvs:mine/Boxes-v0", "--episodes", "3", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["success_rate"] == 1.0
