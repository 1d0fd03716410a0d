"""The environment contract, checked on every registered id (new envs are covered automatically)."""

from __future__ import annotations

import time

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.registration import load_env_creator
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stepgym

ENV_IDS = stepgym.list_envs()

# Strings an agent might plausibly (or maliciously) emit: grammar fragments, junk, huge text.
ACTION_TEXT = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["", " ", "\n", "up", "<action>", "</action>", "click[", "search[]", "{",
                     "{\"action_type\": 1}", "pyautogui.click(", "null", "[]", "\x00", "💥" * 50,
                     "<tool_call>{</tool_call>", "<answer></answer>", "x" * 10_000]),
    st.lists(st.sampled_from(["up", "left", "<action>", "click", "[", "]", "{", "}", "\"", ":",
                              "(", ")", "0", "-1", "1e309", "nan", " "]), max_size=12).map("".join),
)


@pytest.fixture(scope="module", params=ENV_IDS)
def env(request):
    e = stepgym.make(request.param)
    yield e
    e.close()


def test_registry_lists_builtins():
    assert "stepgym/Sokoban-v0" in ENV_IDS
    for env_id in ENV_IDS:
        # registered with gymnasium itself, so that gymnasium.make works after `import stepgym`
        assert env_id in gymnasium.registry, f"{env_id} is listed but gymnasium does not know it"
        creator = load_env_creator(gymnasium.spec(env_id).entry_point)
        assert isinstance(creator, type) and issubclass(creator, gymnasium.Env), \
            f"{env_id}'s entry point {creator!r} is not a gymnasium.Env class"
        assert stepgym.describe(env_id), f"{env_id} has no one-line description"


def test_check_env(env):
    check_env(env.unwrapped, skip_render_check=True)


def test_reset_info_and_obs(env):
    obs, info = env.reset(seed=0)
    for key in ("task_id", "instruction", "action_doc", "state_key", "action_valid", "action_error", "success"):
        assert key in info, f"reset info lacks {key!r}"
    assert isinstance(info["action_doc"], str) and info["action_doc"]
    assert isinstance(obs["text"], str) and obs["text"]
    assert env.observation_space.contains(obs)
    keys = set(obs)
    obs2, *_ = env.step(env.action_space.sample())
    assert set(obs2) == keys, "observation keys changed between steps"


def _rollout(env, seed: int, policy: str, max_steps: int = 40):
    obs, info = env.reset(seed=seed)
    space = env.action_space
    space.seed(seed)
    trace = [(obs["text"], None, info["state_key"])]
    for _ in range(max_steps):
        action = env.unwrapped.oracle_action() if policy == "oracle" else space.sample()
        obs, reward, term, trunc, info = env.step(action)
        trace.append((obs["text"], reward, info["state_key"]))
        if term or trunc:
            break
    return trace


@pytest.mark.parametrize("policy", ["oracle", "random"])
def test_same_seed_same_episode(env, policy):
    first = _rollout(env, 123, policy)
    second = _rollout(env, 123, policy)
    assert first == second


def test_task_option_picks_task(env):
    _, info = env.reset(seed=1)
    task_id = info["task_id"]
    for seed in (2, 3):
        _, info2 = env.reset(seed=seed, options={"task_id": task_id})
        assert info2["task_id"] == task_id
    with pytest.raises(KeyError, match="not in suite"):
        env.reset(options={"task_id": "no-such-task-xyz"})


def test_oracle_succeeds_from_reset(env):
    _, info = env.reset(seed=7)
    for _ in range(env.unwrapped.max_steps):
        _, _, term, trunc, info = env.step(env.unwrapped.oracle_action())
        if term or trunc:
            break
    assert info["success"], f"oracle failed on {info['task_id']}"


def _fuzz_examples(env) -> int:
    """40 fuzz episodes for fast envs; fewer where a reset costs a browser context."""
    t0 = time.perf_counter()
    env.reset(seed=0)
    return 40 if time.perf_counter() - t0 < 0.05 else 12


def test_fuzzed_actions_never_raise(env):
    @settings(max_examples=_fuzz_examples(env), deadline=None, suppress_health_check=list(HealthCheck))
    @given(actions=st.lists(ACTION_TEXT, min_size=1, max_size=4))
    def check(actions):
        obs, info = env.reset(seed=0)
        keys = set(obs)
        for action in actions:
            obs, reward, term, trunc, info = env.step(action)
            assert isinstance(reward, float) and np.isfinite(reward)
            if not info["action_valid"]:
                err = info["action_error"]
                assert isinstance(err, str) and err and "\n" not in err
                assert err in obs["text"], "the observation must repeat the action error"
            if term or trunc:
                break
        # still usable: the oracle's next action is accepted and clears the error
        if not (term or trunc):
            obs, reward, term, trunc, info = env.step(env.unwrapped.oracle_action())
            assert info["action_valid"], f"after fuzzing, the oracle's action was refused: {info['action_error']}"
            assert info["action_error"] is None and "error" not in info
            assert set(obs) == keys and isinstance(reward, float) and np.isfinite(reward)

    check()


@pytest.mark.parametrize("bad", [None, 3, 4.5, ["up"], b"up", object()])
def test_non_text_action_is_reported(env, bad):
    env.reset(seed=0)
    obs, reward, term, trunc, info = env.step(bad)
    assert info["action_valid"] is False
    assert "str" in info["action_error"] or "dict" in info["action_error"]
