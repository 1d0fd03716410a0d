from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import stepgym
from stepgym.envs import EnvPool

TASK = "sokoban_6x6_1box-test-0003"


@pytest.mark.parametrize("backend", ["sync", "process"])
def test_group_reset_to_one_task(backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=3, backend=backend) as pool:
        first = pool.reset(seeds=[1, 2, 3], options=[{"task_id": TASK}] * 3)
        texts = {obs["text"] for obs, _ in first}
        assert len(texts) == 1
        assert all(info["task_id"] == TASK for _, info in first)
        assert all(np.array_equal(first[0][0]["image"], obs["image"]) for obs, _ in first)


def test_no_auto_reset_and_partial_steps():
    with EnvPool("stepgym/Sokoban-v0", num_envs=2) as pool:
        pool.reset(seeds=[0, 0], options=[{"task_id": TASK}] * 2)
        oracle = pool.call("oracle_action", [0])[0]
        res = pool.step({0: oracle})
        assert set(res) == {0}
        while not res[0].done:
            res = pool.step({0: pool.call("oracle_action", [0])[0]})
        assert res[0].info["success"]
        with pytest.raises(RuntimeError, match="reset them"):
            pool.step({0: "up"})
        # the other env is where its reset left it: its first step is a lone env's first step
        other = pool.step({1: "left"})
        assert set(other) == {1}
        _assert_same_step(other[1], _lone_step(0, {"task_id": TASK}, "left"))
        # a finished env reset on its own plays again, like a lone env with that seed
        pool.reset([0], seeds=[5])
        _assert_same_step(pool.step({0: "up"})[0], _lone_step(5, None, "up"))


def _lone_step(seed: int, options: dict | None, action: str):
    """The first step of `action` in a fresh Sokoban env reset with `seed` and `options`."""
    env = stepgym.make("stepgym/Sokoban-v0")
    env.reset(seed=seed, options=options)
    result = env.step(action)
    env.close()
    return result


def _assert_same_step(res, lone) -> None:
    obs, reward, terminated, truncated, info = lone
    assert res.obs["text"] == obs["text"] and np.array_equal(res.obs["image"], obs["image"])
    assert (res.reward, res.terminated, res.truncated) == (reward, terminated, truncated)
    assert res.info["task_id"] == info["task_id"] and res.info["state_key"] == info["state_key"]


def test_killed_worker_truncates_episode_and_pool_recovers():
    with EnvPool("stepgym/Sokoban-v0", num_envs=2, backend="process") as pool:
        pool.reset(seeds=[0, 1])
        pool.step({0: "up", 1: "up"})
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        res = pool.step({0: "left", 1: "left"})
        assert res[0].truncated and not res[0].terminated
        assert "died" in res[0].info["error"]
        assert "error" not in res[1].info
        assert pool.worker_pids()[0] != victim
        obs, info = pool.reset([0], seeds=[3])[0]
        assert "Push every box" in obs["text"]
        assert pool.step({0: "down"})[0].info["action_valid"]


def test_env_bug_is_raised_with_worker_traceback():
    with EnvPool("stepgym/Sokoban-v0", num_envs=1, backend="process") as pool:
        with pytest.raises(RuntimeError, match="no-such-task"):
            pool.reset(options=[{"task_id": "no-such-task"}])


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        EnvPool()
    with pytest.raises(ValueError, match="backend"):
        EnvPool("stepgym/Sokoban-v0", backend="threads")
    with EnvPool("stepgym/Sokoban-v0", num_envs=1) as pool:
        with pytest.raises(IndexError, match="out of range"):
            pool.reset([3])
