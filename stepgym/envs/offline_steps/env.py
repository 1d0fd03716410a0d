"""OfflineSteps-v0: each episode is one recorded Mobile-v0 / Desktop-v0 step; the reward is the card's rule.

A task is one recorded step: the observation text the demonstrator saw (and its screenshot when
the step dataset has one), the instruction, and the recorded action as ground truth. The agent
answers once in the recorded env's grammar; the episode ends there with

    reward = w_format·[parses] + w_type·[type right] + w_argument·[right by the card's rule]

(`stepgym.rewards.offline.reward.rule_reward`; the rule is `stepgym-mobile` / `stepgym-desktop`'s,
the same function `stepgym eval-offline stepgym DIR` scores with). `success` is the last term.
Nothing runs a browser, so GRPO on these steps costs only generation. Build a step dataset from
recordings with `stepgym.episodes.offline.export.export_steps`; the shipped default holds the
text of Mobile-v0 oracle steps (`scripts/make_offline_steps.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.desktop import actions as desktop_actions
from stepgym.envs.mobile import actions as mobile_actions
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.paths import asset_path
from stepgym.rewards.offline import stepgym_actions as rule
from stepgym.rewards.offline.base import StepMatch
from stepgym.rewards.offline.reward import RuleRewardWeights, rule_reward

DEFAULT_DATA = ("offline_steps", "mobile_oracle.jsonl.gz")
RULE = rule.StepgymParams()
WEIGHTS = RuleRewardWeights()


def parse_for(record: dict[str, Any], action: str | dict) -> dict[str, Any]:
    """The recorded env's parse of an answer (ActionError when malformed)."""
    screen = tuple(record["screen"])
    if record["family"] == "mobile":
        return mobile_actions.parse(action, screen)
    if record.get("action_space") == "pyautogui":
        return desktop_actions.parse_pyautogui(action, screen)
    return desktop_actions.parse_computer13(action, screen)


def judge(record: dict[str, Any], parsed: dict[str, Any], params: rule.StepgymParams = RULE) -> StepMatch:
    """The card's verdict on a parsed answer for one recorded step."""
    fn = rule.match_mobile if record["family"] == "mobile" else rule.match_desktop
    return fn(parsed, record["gt"], tuple(record["screen"]), record.get("elements", []), params)


def score_completion(text: str | dict, record: dict[str, Any], params: rule.StepgymParams = RULE,
                     weights: RuleRewardWeights = WEIGHTS) -> float:
    """The rule reward of one answer to one recorded step (a pure function of its inputs).

    `record` is a step-dataset record (a `Task`'s data plus its id), as `export_steps` writes it.
    """
    try:
        parsed = parse_for(record, text)
    except ActionError:
        return rule_reward(None, weights)
    return rule_reward(judge(record, parsed, params), weights)


def _without_episodes(suite: TaskSuite, episode_ids: list[str]) -> TaskSuite:
    """`suite` less the steps of the named recorded episodes (each name must occur in it)."""
    drop = set(episode_ids)
    missing = sorted(drop - {str(t.data.get("episode_id")) for t in suite})
    if missing:
        raise ValueError(f"exclude_episodes names episodes the step dataset does not have: {missing}; "
                         "use the `episode_id` of its records (\"<task id>-s<seed>\")")
    kept = [t for t in suite if str(t.data.get("episode_id")) not in drop]
    if not kept:
        raise ValueError(f"exclude_episodes={sorted(drop)} leaves no step of the dataset")
    return TaskSuite(kept, name=suite.name)


class OfflineStepsEnv(StepEnv):
    """One recorded GUI step per episode; the answer is scored by the offline card's rule."""

    def __init__(self, data: str | Path | TaskSuite | None = None, split: str = "all", image: bool = False,
                 reward_weights: dict[str, float] | None = None, rule_params: dict[str, Any] | None = None,
                 exclude_episodes: list[str] | None = None, render_mode: str | None = None) -> None:
        """`data`: a step dataset (`steps.jsonl` from `export_steps`, or its folder; default: the
        shipped Mobile-v0 oracle steps); `image=True` adds each step's screenshot to the
        observation (the dataset must have them); `reward_weights` / `rule_params`: fields of
        `RuleRewardWeights` / `StepgymParams`; `exclude_episodes`: recorded episodes (`episode_id`,
        e.g. "ClockDeleteAlarm-s2") whose steps are left out, e.g. instances an evaluation holds out."""
        if isinstance(data, TaskSuite):
            suite, root = data, None
        else:
            path = Path(data) if data is not None else asset_path(*DEFAULT_DATA)
            path = path / "steps.jsonl" if path.is_dir() else path
            suite, root = TaskSuite.load(path, name="offline_steps"), path.parent
        if exclude_episodes:
            suite = _without_episodes(suite, exclude_episodes)
        self.visual = bool(image)
        self._root = root
        self.weights = RuleRewardWeights(**(reward_weights or {}))
        self.params = rule.StepgymParams(**(rule_params or {}))
        first = suite[0].data
        self.action_doc = str(first.get("action_doc", ""))
        self.action_examples = tuple(dict.fromkeys(t.data["gt_text"] for t in suite))[:50]
        super().__init__(suite, split=split, max_steps=1, render_mode=render_mode)
        self._record: dict[str, Any] = {}
        self._verdict: StepMatch | None = None

    def _load_task(self, task: Task) -> None:
        self._record = dict(task.data, task_id=task.task_id)
        self._verdict = None
        if self.visual and not self._record.get("image"):
            raise ValueError(f"step {task.task_id!r} has no screenshot; build the dataset with images or pass image=False")

    def _snapshot_state(self):
        return {"record": self._record, "verdict": self._verdict}

    def _restore_state(self, state) -> None:
        self._record, self._verdict = state["record"], state["verdict"]

    def parse_action(self, action: str | dict) -> dict[str, Any]:
        return parse_for(self._record, action)

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        self._verdict = judge(self._record, parsed, self.params)
        return Outcome(reward=rule_reward(self._verdict, self.weights), terminated=True, success=self._verdict.correct)

    def _observe_text(self) -> str:
        return str(self._record.get("observation", ""))

    def _observe_image(self) -> np.ndarray:
        from PIL import Image

        path = (self._root or Path(".")) / self._record["image"]
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))

    def _step_info(self) -> dict[str, Any]:
        v = self._verdict
        # the verdict only, never the ground truth: info reaches policies
        return {"verdict": None if v is None else {"type_match": v.type_match, "correct": v.correct, "gt_type": v.gt_type}}

    def state_key(self) -> str:
        """The recorded step: its episode and index (one state per task)."""
        return f"{self._record.get('episode_id', '')}:{self._record.get('step', '')}"

    def oracle_action(self) -> str:
        """The recorded (demonstrated) action."""
        return str(self._record.get("gt_text", ""))
