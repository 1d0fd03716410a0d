"""Forking envs mid-episode (`EnvPool.fork`), checked on every registered id.

A fork must be its source: the same observation, reward and state key at every later step under
the same actions, native (snapshot/restore) or by replay; a browser fork shares no browser state.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import stepgym
from stepgym.envs import EnvPool
from stepgym.envs.fork import ForkError, ForkMismatch, observation_difference

ENV_IDS = stepgym.list_envs()
BROWSER_IDS = [i for i in ENV_IDS if "Desktop" in i or "Mobile" in i]
NATIVE_IDS = {"stepgym/Sokoban-v0", "stepgym/Sokoban-8x8-v0", "stepgym/ToolUse-v0", "stepgym/WebShop-v0",
              "stepgym/VideoQA-v0", "stepgym/VideoSearch-v0", "stepgym/OfflineSteps-v0"}
SEED = 5
# a Desktop episode with three envs takes ~25 s here: those ids run with `-m slow`
CONTRACT_IDS = [pytest.param(i, marks=pytest.mark.slow) if "Desktop" in i else i for i in ENV_IDS]


def _oracle_length(pool: EnvPool, seed: int) -> int:
    pool.reset([0], seeds=[seed])
    for t in range(1, 200):
        if pool.step({0: pool.call("oracle_action", [0])[0]})[0].done:
            return t
    raise AssertionError("the oracle never finished")


def _same_step(a, b) -> None:
    assert observation_difference(a.obs, b.obs) is None, observation_difference(a.obs, b.obs)
    assert (a.reward, a.terminated, a.truncated) == (b.reward, b.terminated, b.truncated)
    assert a.info["state_key"] == b.info["state_key"]
    assert a.info["action_valid"] == b.info["action_valid"] and a.info["success"] == b.info["success"]


@pytest.mark.parametrize("env_id", CONTRACT_IDS)
def test_fork_then_same_actions_same_episode(env_id):
    with EnvPool(env_id, num_envs=3) as pool:
        length = _oracle_length(pool, SEED)
        k = min(3, length - 1)  # deep enough to have history, short of the oracle's last step
        pool.reset([0], seeds=[SEED])
        for _ in range(k):
            pool.step({0: pool.call("oracle_action", [0])[0]})
        # env 1 forks the env's own way, env 2 by replay whatever the env supports
        default, replay = pool.fork(0, [1])[0], pool.fork(0, [2], native=False)[0]
        assert default.method == ("native" if env_id in NATIVE_IDS else "replay")
        assert replay.method == "replay" and replay.steps == k
        assert default.state_key == replay.state_key == pool.call("state_key", [0])[0]
        space = stepgym.make(env_id).action_space
        space.seed(SEED)
        randoms = [space.sample() for _ in range(2)]
        for t in range(40):
            # the forks' own oracles agree with the source's: oracle positions are forked too
            oracle = pool.call("oracle_action", [0, 1, 2])
            assert oracle[0] == oracle[1] == oracle[2], f"step {t}: the forks' oracles disagree: {oracle}"
            action = randoms[t] if t < len(randoms) else oracle[0]
            res = pool.step({0: action, 1: action, 2: action})
            _same_step(res[0], res[1])
            _same_step(res[0], res[2])
            if res[0].done:
                break
        assert res[0].done


def test_fork_of_a_fork_and_into_a_finished_env():
    with EnvPool("stepgym/Sokoban-v0", num_envs=3) as pool:
        pool.reset([0, 1], seeds=[4, 9])
        pool.step({0: "left", 1: "up"})
        pool.step({0: "up"})
        pool.fork(0, [1])  # env 1 leaves its own episode
        pool.step({1: "right"})
        pool.fork(1, [2])  # a fork's fork replays its whole prefix, both natively and by replay
        assert pool.fork(1, [0], native=False)[0].steps == 3
        keys = pool.call("state_key", [0, 1, 2])
        assert keys[0] == keys[1] == keys[2]


def test_fork_refuses_what_it_cannot_do():
    with EnvPool("stepgym/Sokoban-v0", num_envs=2) as pool:
        with pytest.raises(ForkError, match="no episode in progress"):
            pool.fork(0, [1])
        pool.reset([0], seeds=[0])
        with pytest.raises(ValueError, match="into itself"):
            pool.fork(0, [0])
        with pytest.raises(IndexError, match="out of range"):
            pool.fork(0, [5])


def _pool_of(*kwargs: dict) -> EnvPool:
    made = iter(kwargs)
    return EnvPool(env_fn=lambda: stepgym.make("stepgym/Sokoban-v0", **next(made)), num_envs=len(kwargs))


def test_fork_that_is_not_its_source_raises():
    """A fork never continues silently from another state (here: envs made with other kwargs)."""
    with _pool_of({"levels": "sokoban_6x6_1box"}, {"levels": "sokoban_8x8_2box"}) as pool:
        pool.reset([0], seeds=[1])
        pool.step({0: "up"})
        with pytest.raises(ForkMismatch, match="after 0 of its actions the state key"):
            pool.fork(0, [1], native=False)
    with _pool_of({"max_steps": 20}, {"max_steps": 30}) as pool:
        pool.reset([0], seeds=[1])
        pool.step({0: "up"})
        for native in (True, False):  # same board, but "Steps left" differs
            with pytest.raises(ForkMismatch, match="observation differs .'text' differs from character"):
                pool.fork(0, [1], native=native)


def test_process_backend_forks_across_workers():
    with EnvPool("stepgym/WebShop-v0", num_envs=2, backend="process") as pool:
        pool.reset([0], seeds=[2])
        pool.step({0: pool.call("oracle_action", [0])[0]})
        assert pool.fork(0, [1])[0].method == "native"
        a = pool.call("oracle_action", [0])[0]
        res = pool.step({0: a, 1: a})
        _same_step(res[0], res[1])


@pytest.mark.parametrize("env_id", BROWSER_IDS)
def test_browser_fork_shares_no_browser_state(env_id):
    """An edit in the source is invisible in the fork, and one in the fork invisible in the source."""
    # a task, the oracle steps that open a text field, and an edit typed into it
    if "Mobile" in env_id:
        task, ready, typing = "NotesCreate", 2, {"action_type": "input_text", "text": "zq-fork-probe", "index": 3}
    else:
        task, ready = "editor-hello", 1
        typing = ("pyautogui.write('zq-fork-probe')" if "pyautogui" in env_id
                  else {"action_type": "TYPING", "text": "zq-fork-probe"})
    with EnvPool(env_id, num_envs=2, env_kwargs={"image": False}) as pool:
        pool.reset([0], seeds=[SEED], options=[{"task_id": task}])
        for _ in range(ready):
            pool.step({0: pool.call("oracle_action", [0])[0]})
        pool.fork(0, [1])
        wait = {"action_type": "wait"} if "Mobile" in env_id else "WAIT"
        before = pool.call("state_key", [1])[0]
        assert pool.step({0: typing})[0].info["action_valid"]
        assert "zq-fork-probe" in _page_json(pool, 0)
        # the fork looks at its own page afresh (a wait step): the edit is not there
        assert pool.step({1: wait})[1].info["state_key"] == before
        assert "zq-fork-probe" not in _page_json(pool, 1)
        # and the other way round: the fork's edit leaves the source's page alone
        source = pool.call("state_key", [0])[0]
        assert pool.step({1: typing})[1].info["action_valid"]
        assert pool.step({0: wait})[0].info["state_key"] == source
        assert _page_json(pool, 0).count("zq-fork-probe") == _page_json(pool, 1).count("zq-fork-probe")


def _page_json(pool: EnvPool, i: int) -> str:
    """What env i's page showed at its last step (apps' state, screen, element list), as JSON."""
    return json.dumps(pool.call("_snapshot", [i])[0])


def test_observation_difference_names_what_differs():
    a = {"text": "abc", "image": np.zeros((2, 2, 3), np.uint8)}
    assert observation_difference(a, {"text": "abc", "image": np.zeros((2, 2, 3), np.uint8)}) is None
    b = {"text": "abd", "image": a["image"]}
    assert "character 2" in observation_difference(a, b)
    c = {"text": "abc", "image": np.ones((2, 2, 3), np.uint8)}
    assert "'image' differs in 12 of 12" in observation_difference(a, c)
