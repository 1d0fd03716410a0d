"""Desktop-v0 on real Chromium: the contract, every task's oracle, isolation, crash recovery."""

import numpy as np
import pytest
from browser_checks import (
    check_blocks_other_loopback_servers,
    check_crash_step,
    kill_browser,
    kill_renderers,
)
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stepgym
from stepgym.envs.desktop import load_tasks

TASK_IDS = load_tasks().ids


def make(**kw):
    return stepgym.make(kw.pop("id", "stepgym/Desktop-v0"), **kw).unwrapped


@pytest.fixture(scope="module")
def env():
    e = make(image=False)
    yield e
    e.close()


@pytest.fixture(scope="module")
def pyenv():
    e = make(id="stepgym/Desktop-pyautogui-v0")
    yield e
    e.close()


def play_oracle(e, task_id, seed=0):
    obs, info = e.reset(seed=seed, options={"task_id": task_id})
    keys, texts, total, done = [info["state_key"]], [obs["text"]], 0.0, False
    while not done:
        obs, r, term, trunc, info = e.step(e.oracle_action())
        assert info["action_valid"], info["action_error"]
        keys.append(info["state_key"])
        texts.append(obs["text"])
        total += r
        done = term or trunc
    return total, info, keys, texts


def test_ships_at_least_40_tasks_with_infeasible_ones():
    suite = load_tasks()
    assert len(suite) >= 40
    infeasible = [t for t in suite if t.data["evaluator"]["func"] == "infeasible"]
    assert len(infeasible) >= 4
    apps = {a for t in suite for a in t.data["related_apps"]}
    assert {"files", "editor", "sheet", "mail", "settings"} <= apps


def test_check_env_and_action_doc_names_the_space():
    e = stepgym.make("stepgym/Desktop-v0")
    try:
        check_env(e.unwrapped, skip_render_check=True)
        _, info = e.reset(seed=1)
        assert "computer_13" in info["action_doc"] and "pyautogui" not in info["action_doc"].split("Action space:")[1][:30]
    finally:
        e.close()


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_oracle_solves_every_task(env, task_id):
    total, info, _, _ = play_oracle(env, task_id)
    assert total == 1.0 and info["success"], f"{task_id}: oracle scored {total}"


def test_state_keys_are_deterministic_under_the_oracle(env):
    for task_id in ("files-drag-into-folder", "editor-replace-word", "sheet-sum-total", "mail-reply-alice", "settings-airplane"):
        first = play_oracle(env, task_id, seed=3)
        second = play_oracle(env, task_id, seed=3)
        assert first[2] == second[2] and first[3] == second[3]
        assert len(set(first[2])) >= 2  # the key follows the app state as it changes


def test_state_key_ignores_pixels_but_follows_state(env):
    env.reset(seed=0, options={"task_id": "settings-dark-theme"})
    k0 = env.state_key()
    env.step('{"action_type": "MOVE_TO", "x": 700, "y": 400}')  # hover only: same state
    assert env.state_key() == k0
    x, y = env._session.evaluate("(s) => desktop.locate(s)", '[data-k="settings-theme-dark"]')
    env.step({"action_type": "CLICK", "x": x, "y": y})  # click "Dark": a new state
    assert env.state_key() != k0 and env.app_state()["settings"]["theme"] == "dark"


def test_pyautogui_env_screenshots_and_oracle(pyenv):
    obs, info = pyenv.reset(seed=0, options={"task_id": "files-drag-to-documents"})
    assert "pyautogui" in info["action_doc"]
    assert obs["image"].shape == (720, 1280, 3) and obs["image"].dtype == np.uint8
    assert obs["image"].std() > 10  # a rendered desktop, not a blank frame
    action = pyenv.oracle_action()
    assert action.startswith("pyautogui.moveTo(")
    total = 0.0
    obs, r, term, trunc, info = pyenv.step(action)
    while not (term or trunc):
        obs, r, term, trunc, info = pyenv.step(pyenv.oracle_action())
        total += r
    assert total == 1.0


def test_infeasible_task_rewards_only_fail(env):
    env.reset(seed=0, options={"task_id": "infeasible-print"})
    _, r_done, term, _, _ = env.step("DONE")
    assert term and r_done == 0.0
    env.reset(seed=0, options={"task_id": "infeasible-print"})
    _, r_fail, term, _, info = env.step("FAIL")
    assert term and r_fail == 1.0 and info["success"]
    env.reset(seed=0, options={"task_id": "settings-dark-theme"})
    _, r, term, _, _ = env.step("FAIL")  # giving up on a feasible task
    assert term and r == 0.0


def test_step_limit_scores_the_episode(env):
    env.reset(seed=0, options={"task_id": "settings-dark-theme"})
    env.step(env.oracle_action())  # the task is solved but never declared DONE
    rewards = []
    for _ in range(env.max_steps - 1):
        _, r, term, trunc, info = env.step("WAIT")
        rewards.append(r)
    assert trunc and not term and rewards[-1] == 1.0 and info["success"] and sum(rewards[:-1]) == 0


MALICIOUS = [
    "__import__('os').system('touch {sentinel}')",
    "import os\nos.system('touch {sentinel}')",
    "pyautogui.write(__import__('os').system('touch {sentinel}'))",
    "exec(\"__import__('os').system('touch {sentinel}')\")",
]


@pytest.mark.parametrize("template", MALICIOUS)
def test_malicious_pyautogui_is_rejected_not_run(pyenv, tmp_path, template):
    sentinel = tmp_path / "pwned"
    pyenv.reset(seed=0, options={"task_id": "settings-dark-theme"})
    obs, r, term, trunc, info = pyenv.step(template.format(sentinel=sentinel))
    assert not info["action_valid"] and info["action_error"]
    assert "Last action was invalid" in obs["text"]
    assert not sentinel.exists()
    assert not (term or trunc)
    *_, info = pyenv.step("pyautogui.click(640, 360)")  # the env is still usable
    assert info["action_valid"]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(
    st.text(max_size=80),
    st.sampled_from(['{"action_type": "CLICK", "x": -1, "y": 5}', '{"action_type": "PRESS", "key": "nope"}',
                     '{"action_type": "HOTKEY", "keys": []}', "{}", "[]", "null", '{"action_type": 3}',
                     '{"action_type": "CLICK", "x": 1279, "y": 719}', '{"action_type": "TYPING", "text": "\\u0000x"}']),
))
def test_fuzzed_actions_never_raise(env, action):
    if env._done:
        env.reset(seed=0, options={"task_id": "editor-hello"})
    obs, r, term, trunc, info = env.step(action)
    assert isinstance(obs["text"], str) and 0.0 <= r <= 1.0
    assert info["action_valid"] or info["action_error"]


def test_env_blocks_other_loopback_servers_and_reports_it(env):
    check_blocks_other_loopback_servers(env, "editor-hello", "WAIT")


def test_killed_browser_truncates_then_reset_recovers():
    e = make()
    try:
        e.reset(seed=0, options={"task_id": "settings-dark-theme"})
        pid = kill_browser(e)
        check_crash_step(e.step('{"action_type": "CLICK", "x": 640, "y": 360}'), (720, 1280, 3))
        obs, info = e.reset(seed=0, options={"task_id": "settings-dark-theme"})
        assert e._session.host.pid not in (None, pid)
        total = 0.0
        while True:
            obs, r, term, trunc, info = e.step(e.oracle_action())
            total += r
            if term or trunc:
                break
        assert total == 1.0
        # a renderer (not the browser) dying ends the episode the same way
        e.reset(seed=0, options={"task_id": "settings-dark-theme"})
        kill_renderers(e)
        check_crash_step(e.step('{"action_type": "CLICK", "x": 640, "y": 360}'), (720, 1280, 3), "renderer crashed")
        _, info = e.reset(seed=0, options={"task_id": "settings-dark-theme"})
        *_, info = e.step("WAIT")
        assert info["action_valid"] and info["state_key"] != "crashed"
    finally:
        e.close()


def test_envs_in_one_thread_share_one_browser_with_separate_state():
    a, b = make(image=False), make(image=False)
    try:
        a.reset(seed=0, options={"task_id": "settings-dark-theme"})
        b.reset(seed=0, options={"task_id": "settings-dark-theme"})
        assert a._session.host is b._session.host
        a.step(a.oracle_action())
        assert a.app_state()["settings"]["theme"] == "dark"
        assert b.app_state()["settings"]["theme"] == "light"  # contexts do not leak into each other
    finally:
        a.close()
        b.close()


def test_play_records_episodes_with_screenshots(tmp_path):
    from PIL import Image

    from stepgym.cli import main
    from stepgym.episodes import read_episodes

    assert main(["play", "stepgym/Desktop-v0", "--policy", "oracle", "--episodes", "2", "--seed", "0",
                 "--num-envs", "2", "--record", str(tmp_path)]) == 0
    episodes = list(read_episodes(tmp_path))
    assert len(episodes) == 2 and all(e.success for e in episodes)
    assert {e.task_id for e in episodes} == set(TASK_IDS[:2])  # seeds 0, 1 -> tasks 0, 1
    for e in episodes:
        assert all(s.image for s in e.steps)
        with Image.open(tmp_path / e.steps[0].image) as im:
            assert im.size == (1280, 720)
