"""stepgym's own Mobile-v0 / Desktop-v0 recordings scored step by step: two cards, one adapter."""

from __future__ import annotations

import json
from typing import Any

from stepgym.envs.desktop import actions as desktop_actions
from stepgym.envs.mobile import actions as mobile_actions
from stepgym.episodes.offline.card import OURS, VERIFIED, ProtocolCard, Source
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import (
    Adapter,
    MetricSpec,
    Native,
    PredictionError,
    arrow_from,
    finger_direction,
    label,
)
from stepgym.episodes.schema import Step
from stepgym.rewards.offline import stepgym_actions as rule

POINTED = (*rule.POINTED_MOBILE, *rule.POINTED_DESKTOP)


class RecordingsAdapter(Adapter):
    benchmark = "stepgym"
    key_fields = ("episode_id", "step")

    def __init__(self, protocol: str) -> None:
        super().__init__(protocol)
        self.policy_space = protocol  # "mobile" or "desktop"

    def parse(self, action: str | dict, ep: OfflineEpisode, step: Step) -> Native:
        """The env's own parser (ActionError on malformed actions), as the live env would run it."""
        screen = tuple(step.screen)
        if self.protocol == "mobile":
            return mobile_actions.parse(action, screen)
        if "pyautogui" in ep.episode.env_id.lower():
            return desktop_actions.parse_pyautogui(action, screen)
        return desktop_actions.parse_computer13(action, screen)

    def prediction_native(self, record: dict[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        action = record.get("action")
        if not isinstance(action, (str, dict)):
            raise PredictionError(f'"action" must be the env\'s action text or dict, got {action!r:.40}')
        from stepgym.envs.core import ActionError

        try:
            return self.parse(action, ep, step)
        except ActionError:
            return None  # a malformed action: scored as no usable prediction, like the live env

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any):
        fn = rule.match_mobile if self.protocol == "mobile" else rule.match_desktop
        return fn(pred, step.parsed_action, tuple(step.screen), step.elements, params)

    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        return self.parse(text, ep, step)

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        return step.action

    def observation(self, ep: OfflineEpisode, step: Step, level: str) -> str:
        return step.observation  # the text the live agent saw

    def action_doc(self, ep: OfflineEpisode, step: Step) -> str:
        return str(ep.episode.meta.get("action_doc", ""))

    def available_actions(self, ep: OfflineEpisode, step: Step) -> list[str]:
        if self.protocol == "mobile":
            return super().available_actions(ep, step) + ['{"action_type": "status", "goal_status": "complete"}']
        return [json.dumps({"action_type": "CLICK", "x": e["x"], "y": e["y"]}) for e in step.elements][:40] + ["DONE"]

    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        if native is None:
            return []
        if self.protocol == "mobile":
            kind = native.get("action_type")
            p = rule.mobile_point(native, step.elements)
            if kind in rule.POINTED_MOBILE and p:
                box = rule.mobile_target_box(native, step.elements)
                target = [{"kind": "box", "x1": box[0], "y1": box[1], "x2": box[2], "y2": box[3]}] if box else []
                return target + [{"kind": "point", "x": p[0], "y": p[1]}]
            if kind in ("scroll", "swipe"):
                w, h = step.screen
                x, y = p or (w / 2, h / 2)
                return [arrow_from(x, y, finger_direction(native), 0.25 * h), label(f"{kind} {native.get('direction')}")]
            text = native.get("text") or native.get("app_name") or native.get("goal_status") or ""
            return [label(f"{kind} {text}".strip())]
        out: list[dict[str, Any]] = []
        for a in native.get("actions", [native]):
            kind = a.get("action_type")
            if kind in rule.POINTED_DESKTOP and a.get("x") is not None:
                out.append({"kind": "point", "x": float(a["x"]), "y": float(a["y"])})
            else:
                detail = a.get("text") or a.get("key") or "+".join(a.get("keys", []))
                out.append(label(f"{kind} {detail}".strip()))
        return out

    def metrics(self, params: Any) -> list[MetricSpec]:
        return [
            MetricSpec("step_accuracy", "steps judged right by the card's rule"),
            MetricSpec("type_accuracy", "steps whose action type matched", value=lambda r: float(r["type_match"])),
            MetricSpec("grounding_accuracy", "gt pointing steps (click, long press, ...) whose type matched: fraction on target",
                       weight=lambda r: float(r["gt_type"] in POINTED and r["type_match"])),
            MetricSpec("episode_success", "episodes whose every step is right", over="episodes"),
        ]


_COMMON_METRICS = {"step_accuracy": "fraction of steps right", "type_accuracy": "fraction of steps whose type matched",
                   "grounding_accuracy": "gt pointing steps predicted with the right type: fraction on target",
                   "episode_success": "fraction of episodes with every step right"}
_SPLITS = {"(none)": "every successful episode in the directory",
           "TEXT": "episodes whose task id contains TEXT (e.g. -test-); --set successful_only=false keeps failed ones"}
_DATA = "an episode directory written by `stepgym play/eval --record DIR` (episodes.jsonl + media/)"

MOBILE = ProtocolCard(
    benchmark="stepgym", protocol="mobile", title="stepgym Mobile-v0 recordings",
    summary=("Recorded Mobile-v0 demonstrations (AndroidWorld JSON actions) as a step-wise benchmark: a click is right "
             "inside the box of the element the demonstration touched, so a model can be scored offline, without a browser."),
    action_space={"AndroidWorld JSON (click, long_press, double_tap, scroll, swipe, input_text, keyboard_enter, navigate_*, open_app, wait, answer, status)":
                  "itself: this is Mobile-v0's own vocabulary, parsed by the env's parser"},
    rules={"all": "same action type; a swipe counts as the scroll it causes (swipe up = scroll down)",
           "click / long_press / double_tap": "the predicted point (an index becomes its element's centre) inside the gt element's box; without a box, within click_distance_fraction·max(W, H)",
           "scroll": "same content direction", "input_text / answer": "text per text_match", "open_app": "app name, case-insensitive",
           "status": "same goal_status", "keyboard_enter / navigate_* / wait": "type alone"},
    params=rule.StepgymParams, splits=_SPLITS, levels={}, metrics=_COMMON_METRICS,
    sources=(Source("stepgym/envs/mobile/actions.py, env.py", "action grammar, element list format, scroll vs swipe", VERIFIED),
             Source("the rule", "no published protocol exists for these envs", OURS)),
    data_layout=_DATA, adapter=RecordingsAdapter("mobile"),
)
DESKTOP = ProtocolCard(
    benchmark="stepgym", protocol="desktop", title="stepgym Desktop-v0 recordings",
    summary=("Recorded Desktop-v0 demonstrations (OSWorld computer_13 or pyautogui) as a step-wise benchmark. The "
             "observation lists element centres, not boxes, so a click must be near the gt point and nearest the same element."),
    action_space={"computer_13 JSON / pyautogui code": "itself: Desktop-v0's own vocabulary, parsed by the env's parser"},
    rules={"all": "the same primitives in the same order (pyautogui code can hold several)",
           "CLICK / DOUBLE_CLICK / RIGHT_CLICK / MOVE_TO / DRAG_TO": "within click_distance_fraction·max(W, H) of the gt point, nearest the same listed element, same button and clicks",
           "TYPING": "text per text_match", "PRESS / KEY_DOWN / KEY_UP / HOTKEY": "same keys, case-insensitive", "SCROLL": "same sign of dx and dy",
           "WAIT / DONE / FAIL / MOUSE_*": "type alone"},
    params=rule.StepgymParams, splits=_SPLITS, levels={}, metrics=_COMMON_METRICS,
    sources=(Source("stepgym/envs/desktop/actions.py, envs/browser/a11y.js", "computer_13 / pyautogui parsing, element lines list centres only", VERIFIED),
             Source("the rule", "no published protocol exists for these envs", OURS)),
    data_layout=_DATA, adapter=RecordingsAdapter("desktop"),
)
CARDS = (MOBILE, DESKTOP)
