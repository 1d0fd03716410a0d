import json

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import stepgym
from stepgym.cli import main as cli_main


@pytest.mark.parametrize("env_id", ["stepgym/VideoQA-v0", "stepgym/VideoSearch-v0"])
def test_oracle_solves_every_shipped_task(env_id):
    env = stepgym.make(env_id)
    tasks = list(env.unwrapped.tasks)
    assert len(tasks) >= 8 and {t.data["kind"] for t in tasks} == {"needle", "count", "color_change", "collision"}
    for task in tasks:
        obs, info = env.reset(seed=0, options={"task_id": task.task_id})
        keys = set(obs)
        assert keys == {"text", "video", "frames"}
        assert obs["frames"].ndim == 4 and obs["frames"].dtype == np.uint8
        assert len(info["frame_timestamps"]) == len(obs["frames"])
        done, total = False, 0.0
        while not done:
            obs, reward, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
            assert set(obs) == keys and info["action_valid"], info["action_error"]
            total += reward
            done = terminated or truncated
        assert info["success"] and total == 1.0, task.task_id


@pytest.mark.parametrize("env_id, kwargs", [("stepgym/VideoQA-v0", {}),
                                            ("stepgym/VideoQA-v0", {"sampling": "slowfast", "token_budget": 1024}),
                                            ("stepgym/VideoSearch-v0", {})])
def test_check_env_and_determinism(env_id, kwargs):
    env = stepgym.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    runs = []
    for _ in range(2):
        obs, info = env.reset(seed=7)
        trace = [(obs["text"], obs["frames"].tobytes(), info["state_key"])]
        for action in env.unwrapped.action_examples[:3]:
            obs, r, term, trunc, info = env.step(action)
            trace.append((obs["text"], obs["frames"].tobytes(), info["state_key"], r))
            if term or trunc:
                break
        runs.append(trace)
    assert runs[0] == runs[1]


def test_wrong_and_malformed_answers():
    env = stepgym.make("stepgym/VideoQA-v0")
    _, info = env.reset(seed=0)
    answer = env.unwrapped.task.data["answer"]
    wrong = next(c for c in "ABCD" if c != answer)
    _, reward, terminated, _, info = env.step(f"I think the answer is ({wrong}).")
    assert reward == 0.0 and terminated and not info["success"] and info["state_key"].endswith(wrong)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("no idea at all")
    assert not info["action_valid"] and "expected an option letter (A, B, C, D)" in info["action_error"]
    assert "Last action was invalid" in obs["text"] and truncated and reward == 0.0


def test_slowfast_sampling_reports_frame_kinds_and_tokens():
    env = stepgym.make("stepgym/VideoQA-v0", sampling="slowfast", token_budget=1500)
    obs, info = env.reset(options={"task_id": "gen-needle-0004"})
    kinds, tokens = info["frame_kinds"], info["frame_tokens"]
    assert len(kinds) == len(tokens) == len(obs["frames"]) == len(info["frame_timestamps"])
    assert kinds[0] == "slow" and "fast" in kinds and sum(tokens) <= 1500
    assert all(h % 28 == 0 and w % 28 == 0 for h, w in info["frame_sizes"])
    # the needle (an inserted card) starts a new slow frame
    ev = env.unwrapped.task.data["evidence"]
    assert any(k == "slow" and ev[0] <= t < ev[1] for k, t in zip(kinds, info["frame_timestamps"], strict=True))
    with pytest.raises(ValueError, match="sampling must be one of"):
        stepgym.make("stepgym/VideoQA-v0", sampling="dense")


def test_search_grammar_budget_and_state_key():
    env = stepgym.make("stepgym/VideoSearch-v0", frame_budget=6, max_steps=20)
    obs, info = env.reset(options={"task_id": "gen-needle-0000"})
    key0 = info["state_key"]
    assert len(obs["frames"]) == 4 and info["frames_left"] == 6
    obs, _, _, _, info = env.step("Let me look: frames(start=2.0, end=4.0, n=2)")
    assert info["action_valid"] and len(obs["frames"]) == 2 and info["frames_left"] == 4
    assert all(2.0 <= t <= 4.0 for t in info["frame_timestamps"]) and info["state_key"] != key0
    key1 = info["state_key"]
    _, _, _, _, info = env.step("frames(2.0, 4.0, 2)")  # the same frames again: same state
    assert info["action_valid"] and info["state_key"] == key1 and info["frames_left"] == 2
    for bad, message in [("frames(start=2, end=3, n=3)", "only 2 of the budget 6 are left"),
                         ("frames(start=99, end=100, n=1)", "start < 24.0"),
                         ("frames(start=5, end=3, n=1)", "end >= start"),
                         ("frames(start=1, end=3, n=0)", "n must be 1-8"),
                         ("frames(start=x, end=3)", "start must be a number"),
                         ("frames(when=3)", "takes start=, end= and n="),
                         ("answer(Q)", "one option letter"),
                         ("look around", "expected frames(start=..., end=..., n=...) or answer(X)")]:
        obs, reward, terminated, _, info = env.step(bad)
        assert not info["action_valid"] and message in info["action_error"], (bad, info["action_error"])
        assert info["state_key"] == key1 and not terminated
    _, reward, terminated, _, info = env.step(f"answer({env.unwrapped.task.data['answer']})")
    assert reward == 1.0 and terminated and info["success"]


def test_search_oracle_looks_at_the_evidence_first():
    env = stepgym.make("stepgym/VideoSearch-v0", overview_frames=0)
    env.reset(options={"task_id": "gen-needle-0000"})
    action = env.unwrapped.oracle_action()
    assert action.startswith("frames(start=21.88")
    _, _, _, _, info = env.step(action)
    ev = env.unwrapped.task.data["evidence"]
    assert all(ev[0] <= t < ev[1] for t in info["frame_timestamps"])
    assert env.unwrapped.oracle_action() == f"answer({env.unwrapped.task.data['answer']})"


def test_cli_eval_with_slowfast(capsys):
    kwargs = json.dumps({"sampling": "slowfast", "token_budget": 1024})
    assert cli_main(["eval", "stepgym/VideoQA-v0", "--policy", "oracle", "--episodes", "4",
                     "--env-kwargs", kwargs, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["success_rate"] == 1.0
    assert cli_main(["eval", "stepgym/VideoQA-v0", "--policy", "random", "--episodes", "16", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["success_rate"] < 0.7
