"""OfflineSteps-v0: one recorded step per episode, rewarded by the card's rule (format + type + argument)."""

from __future__ import annotations

import json

import pytest

import stepgym
from stepgym.envs.offline_steps import OfflineStepsEnv, score_completion
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.rewards.offline.reward import RuleRewardWeights

RECORD = {"family": "mobile", "screen": [360, 640], "observation": "UI elements:\n[1] Button \"Add\" bounds=(10,200,110,240)",
          "elements": [{"index": 0, "bbox": [0, 76, 360, 132]}, {"index": 1, "bbox": [10, 200, 110, 240]}],
          "gt": {"action_type": "click", "index": 1}, "gt_text": '{"action_type": "click", "index": 1}',
          "episode_id": "e", "step": 3, "action_doc": "Reply with one JSON action."}


def test_rule_reward_by_hand():
    assert score_completion('{"action_type": "click", "index": 1}', RECORD) == pytest.approx(1.0)
    assert score_completion('{"action_type": "click", "x": 110, "y": 240}', RECORD) == pytest.approx(1.0)  # box edge
    assert score_completion('{"action_type": "click", "x": 111, "y": 240}', RECORD) == pytest.approx(2 / 3)
    assert score_completion('{"action_type": "long_press", "index": 1}', RECORD) == pytest.approx(1 / 3)
    assert score_completion("tap the add button", RECORD) == 0.0
    heavy = RuleRewardWeights(format=0.1, action_type=0.2, argument=0.7)
    assert score_completion('{"action_type": "click", "index": 0}', RECORD, weights=heavy) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="sum to 1"):
        RuleRewardWeights(format=0.5, action_type=0.5, argument=0.5)


def test_env_episode_is_one_step_and_rewards_match_the_pure_function():
    env = OfflineStepsEnv(data=TaskSuite([Task("e:3", "Add an alarm", split="train", data=RECORD)]))
    obs, info = env.reset(seed=0)
    assert obs["text"] == RECORD["observation"] and info["state_key"] == "e:3" and info["verdict"] is None
    for answer in ('{"action_type": "click", "x": 111, "y": 240}', '{"action_type": "click", "index": 1}', "junk"):
        env.reset(seed=0)
        obs, reward, term, trunc, info = env.step(answer)
        assert term or trunc
        assert reward == pytest.approx(score_completion(answer, RECORD))
    assert info["action_valid"] is False and info["action_error"] in obs["text"]
    env.reset(seed=0)
    *_, info = env.step(env.oracle_action())
    assert info["success"] and info["verdict"] == {"type_match": True, "correct": True, "gt_type": "click"}


def test_default_data_is_the_shipped_mobile_oracle_steps():
    env = stepgym.make("stepgym/OfflineSteps-v0")
    suite = env.unwrapped.tasks
    assert len(suite) > 100 and set(suite.splits()) == {"train", "test"}
    kinds = {json.loads(t.data["gt_text"])["action_type"] for t in suite}
    assert {"click", "open_app", "input_text", "scroll", "status"} <= kinds
    for seed in range(10):
        env.reset(seed=seed)
        *_, reward, term, trunc, info = env.step(env.unwrapped.oracle_action())
        assert reward == pytest.approx(1.0) and info["success"]
    env.close()
