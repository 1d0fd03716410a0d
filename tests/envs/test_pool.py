"""EnvPool's contract, the same on every backend, and what happens when a worker dies.

The Ray cases start one local Ray for this module (fractional-CPU actors: whole-CPU ones would
wait for each other forever on a 2-core machine) and are skipped when Ray is not installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import stepgym
from stepgym.envs import EnvPool
from stepgym.envs.pool import WorkerDied

TASK = "sokoban_6x6_1box-test-0003"
BACKENDS = ["sync", "process", "ray"]
WORKER_BACKENDS = ["process", "ray"]


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    for attempt in range(3):  # Ray gives its raylet 30 s to start, which a loaded machine can miss
        try:
            ray.init(address="local", num_cpus=4, include_dashboard=False, logging_level="ERROR")
            break
        except Exception:
            ray.shutdown()
            if attempt == 2:
                raise
    yield ray
    ray.shutdown()


def _backend(request) -> str:
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return request.param


@pytest.fixture(params=BACKENDS)
def backend(request):
    return _backend(request)


@pytest.fixture(params=WORKER_BACKENDS)
def worker_backend(request):
    return _backend(request)


# -- the contract, on every backend ----------------------------------------------------------------
def test_group_reset_to_one_task(backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=3, backend=backend) as pool:
        first = pool.reset(seeds=[1, 2, 3], options=[{"task_id": TASK}] * 3)
        texts = {obs["text"] for obs, _ in first}
        assert len(texts) == 1
        assert all(info["task_id"] == TASK for _, info in first)
        assert all(np.array_equal(first[0][0]["image"], obs["image"]) for obs, _ in first)


def test_no_auto_reset_and_partial_steps(backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=2, backend=backend) as pool:
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


def test_env_bug_is_raised_with_its_message(backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=2, backend=backend) as pool:
        with pytest.raises((RuntimeError, KeyError), match="no-such-task"):
            pool.reset(options=[{"task_id": TASK}, {"task_id": "no-such-task"}])
        # the pool stays usable: the env that reset fine steps, the other resets when asked properly
        assert pool.step({0: "up"})[0].info["action_valid"]
        with pytest.raises(RuntimeError, match="reset them"):
            pool.step({1: "up"})
        assert pool.reset([1], options=[{"task_id": TASK}])[0][1]["task_id"] == TASK


def test_env_that_cannot_be_built_fails_the_pool_at_once(backend):
    with pytest.raises((RuntimeError, FileNotFoundError), match="nope"):
        EnvPool("stepgym/Sokoban-v0", num_envs=2, backend=backend, env_kwargs={"levels": "nope"})


def test_envs_per_worker_changes_where_envs_run_not_what_they_do(worker_backend):
    seeds, actions = [0, 1, 2, 3, 4], ["up", "left", "down", "right", "up"]
    with EnvPool("stepgym/Sokoban-v0", num_envs=5) as lone:
        lone.reset(seeds=seeds)
        expected = lone.step(dict(enumerate(actions)))
    with EnvPool("stepgym/Sokoban-v0", num_envs=5, backend=worker_backend, envs_per_worker=2) as pool:
        assert pool.num_workers == 3  # 2 + 2 + 1
        pids = pool.worker_pids()
        assert len(set(pids)) == 3 and os.getpid() not in pids
        assert [pool.worker_index(i) for i in range(5)] == [0, 0, 1, 1, 2]
        pool.reset(seeds=seeds)
        got = pool.step(dict(enumerate(actions)))
        for i in range(5):
            assert got[i].obs["text"] == expected[i].obs["text"]
            assert got[i].info["state_key"] == expected[i].info["state_key"]


# -- dead workers ----------------------------------------------------------------------------------
def test_killed_worker_truncates_episode_and_pool_recovers(worker_backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=2, backend=worker_backend) as pool:
        pool.reset(seeds=[0, 1])
        pool.step({0: "up", 1: "up"})
        victim = pool.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        res = pool.step({0: "left", 1: "left"})
        assert res[0].truncated and not res[0].terminated and not res[0].info["success"]
        assert "died" in res[0].info["error"] and str(victim) in res[0].info["error"]
        assert "error" not in res[1].info and not res[1].truncated
        assert pool.worker_pids()[0] != victim
        assert [(r.worker, r.reason) for r in pool.restarts] == [(0, res[0].info["error"])]
        obs, info = pool.reset([0], seeds=[3])[0]
        assert "Push every box" in obs["text"]
        assert pool.step({0: "down"})[0].info["action_valid"]


def test_a_dead_worker_ends_every_episode_it_held(worker_backend):
    """Envs of the dead worker that were not stepped when it died end at their next step."""
    with EnvPool("stepgym/Sokoban-v0", num_envs=4, backend=worker_backend, envs_per_worker=2) as pool:
        pool.reset(seeds=[0, 1, 2, 3])
        victim = pool.worker_pids()[0]  # envs 0 and 1
        os.kill(victim, signal.SIGKILL)
        res = pool.step({0: "up", 2: "up"})
        assert res[0].truncated and "died" in res[0].info["error"]
        assert not res[2].truncated and "error" not in res[2].info
        late = pool.step({1: "up", 3: "up"})
        assert late[1].truncated and late[1].info["error"] == res[0].info["error"]
        assert not late[3].truncated
        with pytest.raises(RuntimeError, match="reset them"):
            pool.step({1: "up"})
        pool.reset([0, 1], seeds=[5, 6])
        again = pool.step({0: "down", 1: "down"})
        assert all(r.info["action_valid"] and "error" not in r.info for r in again.values())


def test_ray_kill_of_an_actor_mid_episode_is_marked_and_recovered(ray_cluster):
    ray = ray_cluster
    with EnvPool("stepgym/Sokoban-v0", num_envs=3, backend="ray") as pool:
        pool.reset(seeds=[0, 1, 2], options=[{"task_id": TASK}] * 3)
        before = pool.step({0: "up", 1: "up", 2: "up"})
        ray.kill(pool.ray_actors()[1])
        res = pool.step({0: "left", 1: "left", 2: "left"})
        assert res[1].truncated and not res[1].terminated
        assert "Ray env actor" in res[1].info["error"] and "died" in res[1].info["error"]
        assert res[1].obs["text"] == before[1].obs["text"]  # the last observation it had
        assert not res[0].truncated and not res[2].truncated
        first = pool.reset([1], seeds=[0], options=[{"task_id": TASK}])[0]
        assert first[1]["task_id"] == TASK
        assert pool.step({1: "left"})[1].info["action_valid"]


def test_call_on_a_dead_worker_raises_and_the_episode_ends_at_its_next_step(worker_backend):
    with EnvPool("stepgym/Sokoban-v0", num_envs=1, backend=worker_backend) as pool:
        pool.reset(seeds=[0])
        os.kill(pool.worker_pids()[0], signal.SIGKILL)
        with pytest.raises(WorkerDied, match="died"):
            pool.call("oracle_action", [0])
        res = pool.step({0: "up"})[0]
        assert res.truncated and "died" in res.info["error"]
        pool.reset(seeds=[1])
        assert pool.call("oracle_action", [0])[0]


# -- arguments ----------------------------------------------------------------------------------
def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one"):
        EnvPool()
    with pytest.raises(ValueError, match="'threads'"):
        EnvPool("stepgym/Sokoban-v0", backend="threads")
    with pytest.raises(ValueError, match="envs_per_worker must be an int >= 1, got 0"):
        EnvPool("stepgym/Sokoban-v0", backend="process", envs_per_worker=0)
    with pytest.raises(ValueError, match="need backend='ray'"):
        EnvPool("stepgym/Sokoban-v0", backend="process", ray_actor_options={"num_cpus": 1})
    with EnvPool("stepgym/Sokoban-v0", num_envs=1) as pool:
        with pytest.raises(IndexError, match="out of range"):
            pool.reset([3])
        with pytest.raises(RuntimeError, match="needs backend='process' or 'ray'"):
            pool.worker_pids()


def test_ray_backend_without_ray_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r"pip install 'stepgym\[ray\]'"):
        EnvPool("stepgym/Sokoban-v0", backend="ray")


@pytest.mark.slow
def test_ray_pool_starts_a_local_ray_when_none_runs(tmp_path):
    pytest.importorskip("ray")
    script = textwrap.dedent("""
        import ray
        from stepgym.envs import EnvPool
        if __name__ == "__main__":
            assert not ray.is_initialized()
            with EnvPool("stepgym/Sokoban-v0", num_envs=2, backend="ray") as pool:
                pool.reset(seeds=[0, 1])
                assert pool.step({0: "up", 1: "up"})[1].info["action_valid"]
                print("CPUs", ray.cluster_resources()["CPU"])
    """)
    path = tmp_path / "start.py"
    path.write_text(script)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"CPUs {4.0 * os.cpu_count()}" in out.stdout  # fractional-CPU actors of several pools fit


@pytest.mark.slow
def test_browser_envs_of_one_worker_share_one_chromium(worker_backend):
    pytest.importorskip("playwright")
    import json
    from pathlib import Path

    from stepgym.envs.browser.session import process_tree

    def browsers(pid: int) -> set[bytes]:
        """The --stepgym-host markers of the Chromium browser processes under `pid`."""
        out = set()
        for p in process_tree(pid):
            try:
                args = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if not any(a.startswith(b"--type=") for a in args):
                out |= {a for a in args if a.startswith(b"--stepgym-host=")}
        return out

    with EnvPool("stepgym/Mobile-v0", num_envs=4, backend=worker_backend, envs_per_worker=2) as pool:
        pool.reset(seeds=[0, 1, 2, 3])
        res = pool.step({i: json.dumps({"action_type": "navigate_home"}) for i in range(4)})
        assert all(r.info["action_valid"] for r in res.values())
        hosts = [browsers(pid) for pid in pool.worker_pids()]
        assert [len(h) for h in hosts] == [1, 1] and hosts[0] != hosts[1]
