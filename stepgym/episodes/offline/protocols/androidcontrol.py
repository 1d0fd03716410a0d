"""AndroidControl under the OS-Atlas and the Qwen2.5-VL / InfiGUI-R1 conventions: two cards, one adapter."""

from __future__ import annotations

import json
from typing import Any

from stepgym.envs.core import ActionError
from stepgym.episodes.offline.card import (
    OURS,
    THIRD_PARTY,
    UNVERIFIED,
    VERIFIED,
    ProtocolCard,
    Source,
)
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import (
    OPPOSITE,
    Adapter,
    MetricSpec,
    Native,
    PredictionError,
    arrow_from,
    label,
    parse_mobile,
)
from stepgym.episodes.schema import Step
from stepgym.rewards.offline import androidcontrol as rule

ACTION_TYPES = ("click", "long_press", "scroll", "open_app", "type", "input_text", "navigate_home",
                "navigate_back", "wait")


class AndroidControlAdapter(Adapter):
    benchmark = "androidcontrol"
    key_fields = ("episode_id", "step")

    def prediction_native(self, record: dict[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        action = record.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("action_type"), str):
            raise PredictionError(f'"action" must be an AndroidControl action dict with "action_type" '
                                  f"(one of {', '.join(ACTION_TYPES)}), got {action!r:.60}")
        return dict(action)

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any):
        screen = tuple(step.screen)
        if self.protocol == "osatlas":
            return rule.match_osatlas(pred, step.parsed_action, screen, params)
        return rule.match_qwen(pred, step.parsed_action, screen, step.elements, params)

    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        a = parse_mobile(text, step)
        kind = a["action_type"]
        if kind in ("click", "long_press"):
            return {"action_type": kind, "x": int(a["x"]), "y": int(a["y"])}
        if kind in ("scroll", "swipe"):
            d = a["direction"] if kind == "scroll" else OPPOSITE[a["direction"]]
            return {"action_type": "scroll", "direction": d}
        if kind == "input_text":
            return {"action_type": "input_text", "text": a["text"]}
        if kind == "open_app":
            return {"action_type": "open_app", "app_name": a["app_name"]}
        if kind in ("navigate_home", "navigate_back", "wait"):
            return {"action_type": kind}
        raise ActionError(f"AndroidControl has no {kind} action; use click, long_press, scroll, open_app, "
                          "input_text, navigate_home, navigate_back or wait")

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        gt = step.parsed_action
        kind = gt.get("action_type")
        if kind in ("click", "long_press"):
            return json.dumps({"action_type": kind, "x": int(gt["x"]), "y": int(gt["y"])})
        if kind in ("type", "input_text"):
            return json.dumps({"action_type": "input_text", "text": gt.get("text", "")})
        if kind == "scroll":
            return json.dumps({"action_type": "scroll", "direction": gt.get("direction", "down")})
        if kind == "open_app":
            return json.dumps({"action_type": "open_app", "app_name": gt.get("app_name", "")})
        return json.dumps({"action_type": kind})

    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        if native is None:
            return []
        kind = native.get("action_type")
        w, h = step.screen
        if kind in ("click", "long_press", "type") and native.get("x") is not None:
            out = [{"kind": "point", "x": float(native["x"]), "y": float(native["y"])}]
            return out + ([label(f'type "{native.get("text", "")}"')] if kind == "type" else [])
        if kind == "scroll":
            return [arrow_from(w / 2, h / 2, str(native.get("direction", "")), 0.2 * h),
                    label(f"scroll {native.get('direction', '')}")]
        if kind == "input_text":
            return [label(f'input_text "{native.get("text", "")}"')]
        if kind == "open_app":
            return [label(f'open_app "{native.get("app_name", "")}"')]
        return [label(str(kind))]

    def metrics(self, params: Any) -> list[MetricSpec]:
        clicks = ("CLICK",) if self.protocol == "osatlas" else ("click", "long_press")
        ground = ("gt CLICK steps whose predicted type is CLICK: fraction within the distance (OS-Atlas' "
                  "`CLICK_all_match / CLICK_type_match`)" if self.protocol == "osatlas" else
                  "gt click / long_press steps whose type matched: fraction right")
        return [
            MetricSpec("step_accuracy", "steps judged right by the card's rule"),
            MetricSpec("type_accuracy", "steps whose action type matched", value=lambda r: float(r["type_match"])),
            MetricSpec("grounding_accuracy", ground,
                       weight=lambda r: float(r["gt_type"] in clicks and r["type_match"])),
            MetricSpec("episode_success", "episodes whose every scored step is right", over="episodes"),
        ]


_OSATLAS = "OS-Copilot/OS-Atlas eval/eval_scripts/android_control/evaluation_unify.py (read in the fork averychen35/OS-Atlas @1fa4fb3)"
_QWEN = "InfiGUI-R1 eval/android_control/evaluate_android_control.py (read in the copy omprakashv3/MultiModel-MobileGUI-Agent @d46a73c), from the Qwen2.5-VL gist (QwenLM/Qwen2.5-VL#904)"
_README = "google-research/google-research android_control/README.md"
_COMMON_SOURCES = (
    Source(_README, "one GZIP TFRecord Example per episode; PNG screenshots; a11y forests; actions as JSON dicts, len(screenshots) - 1 of them; step_instructions repeat across actions; action types click, long_press, scroll, open_app, type, input_text, navigate_home, navigate_back, wait"),
    Source("google-deepmind/android_env android_env/proto/a11y/*.proto", "AndroidAccessibilityForest / WindowInfo / Tree / NodeInfo / ProtoRect field numbers"),
    Source("splits.json {train, validation, test}, test_subsplits.json {IDD, app_unseen, task_unseen, category_unseen}", "file and key names", THIRD_PARTY),
    Source("InfiGUI-R1 eval code", "high level gives the goal only, low level adds the step instruction", VERIFIED),
    Source("bytedance/UI-TARS#79", "low level: the step instruction (the 'thought') is given; the model predicts the action", VERIFIED),
    Source("AndroidControl scroll direction", "whether `scroll down` moves the content or the finger is not documented; stepgym reads it like AndroidWorld (content direction: scroll down = finger up)", UNVERIFIED),
    Source("episode_success", "neither script computes it: stepgym reports episodes whose every scored step is right", OURS),
)
_SPLITS = {"(none)": "every episode in DATA_DIR",
           "train / validation / test": "episodes listed in splits.json",
           "IDD / app_unseen / task_unseen / category_unseen": "a test subsplit from test_subsplits.json (they overlap: an episode counts in every subsplit that lists it, unlike OS-Atlas' script, which files it under the first)",
           "--set step_list=PATH": "also keep only the steps a file of episode_<id>_screenshot_<step> lines names (OS-Atlas' eval/data/ac_idx.txt lists 7,708)"}
_LEVELS = {"high": "the policy sees the goal only", "low": "the policy also sees the step instruction"}
_DATA = "the `android_control-000NN-of-00020` GZIP TFRecord shards, with `splits.json` and `test_subsplits.json` beside them"
_ACTIONS_COMMON = {
    "click / long_press {x, y} (pixels)": "the same dict (an element `index` becomes that element's centre)",
    "scroll {direction}": "`scroll` with that direction (`swipe` d becomes scroll opposite(d))",
    "type / input_text {text}": '`{"action_type": "input_text", "text"}`',
    "open_app {app_name}": "the same", "navigate_home / navigate_back / wait": "the same",
    "(none)": "double_tap, keyboard_enter, answer and status have no AndroidControl equivalent: unusable, wrong",
}

OSATLAS = ProtocolCard(
    benchmark="androidcontrol", protocol="osatlas", title="OS-Atlas `evaluation_unify.py` (UI-TARS follows it)",
    summary=("Actions become OS-Atlas command strings (points rescaled to 0–1000); a click is right within 140 "
             "on that grid — the '14% of screen distance' UI-TARS#79 names as the cause of 82.7 vs 90.8."),
    action_space=_ACTIONS_COMMON,
    rules={
        "all": "types compared on the command word (CLICK, LONG_PRESS, TYPE, SCROLL, OPEN_APP, PRESS_BACK, PRESS_HOME, WAIT); a wrong type is wrong",
        "CLICK / LONG_PRESS": "Euclidean distance on the grid ≤ click_distance (x·1000/W, y·1000/H, rounded)",
        "TYPE / OPEN_APP": "exact command string, or token-set F1 (lower-cased) of `split()[1]` — the first word with its bracket, a quirk — above text_f1_threshold",
        "SCROLL and the rest": "exact command string (SCROLL [UP] ...)",
    },
    params=rule.OSAtlasParams, splits=_SPLITS, levels=_LEVELS,
    metrics={"step_accuracy": "fraction of steps right ('Acc', tables call it SR)",
             "type_accuracy": "fraction of steps whose command word matched",
             "grounding_accuracy": "gt CLICK steps predicted as CLICK: fraction within click_distance",
             "episode_success": "fraction of episodes with every scored step right (stepgym's addition)"},
    sources=(Source(_OSATLAS, "thresholds 0.14*1000 and F1 > 0.5 on split()[1], exact string otherwise, grounding = CLICK_all_match / CLICK_type_match"),
             Source("OS-Atlas eval/data/ac_test.jsonl", "command vocabulary and 0-1000 points (CLICK <point>[[950,87]]</point>, TYPE [..], SCROLL [UP], OPEN_APP [..])"),
             Source("pixel → grid conversion", "OS-Atlas' rounding is not published; stepgym rounds (`round_points`)", UNVERIFIED),
             *_COMMON_SOURCES),
    data_layout=_DATA, adapter=AndroidControlAdapter("osatlas"),
)

QWEN = ProtocolCard(
    benchmark="androidcontrol", protocol="qwen", title="Qwen2.5-VL gist, as InfiGUI-R1 ships it",
    summary=("A click is right inside a 1.2× candidate box or within 0.04·max(W, H) pixels of the gt point; "
             "text by case-insensitive containment; back and home are one type (system_button)."),
    action_space=_ACTIONS_COMMON,
    rules={
        "click / long_press": "same kind, then the point inside a candidate box scaled by bbox_enlarge about its centre (inclusive), or within point_distance_fraction·max(W, H) px of the gt point",
        "type / input_text": "both are `type`: right when either text contains the other (lower-cased, stripped)",
        "open_app": "an `open` with contained app name; or, with open_app_accepts_click, a click in the app's candidate box counts as type-right and is judged as a click",
        "scroll": "same direction",
        "navigate_back / navigate_home": "one type (`system_button`): type-right either way, right only with the same button",
        "wait": "right iff the prediction waits",
    },
    params=rule.QwenParams, splits=_SPLITS, levels=_LEVELS,
    metrics={"step_accuracy": "fraction of steps right (exact_match_acc)",
             "type_accuracy": "fraction of steps type-right (type_match_acc)",
             "grounding_accuracy": "gt click / long_press steps with type right: fraction right (stepgym's reading of click_match_acc)",
             "episode_success": "fraction of episodes with every scored step right (stepgym's addition)"},
    sources=(Source(_QWEN, "BBOX_ENLARGE_FACTOR 1.2, POINT_DISTANCE_THRESHOLD 0.04·max(w, h), check_text containment, system_button, open-by-click, swipe direction"),
             Source("candidate_bbox extraction from the a11y tree", "not published (Qwen3-VL#1155, InfiGUI-R1#8; UGround#28: 'minimal enclosing element'): `candidate_boxes` picks it", UNVERIFIED),
             Source("click_match_acc", "computed by the caller script, which was not read", UNVERIFIED),
             *_COMMON_SOURCES),
    data_layout=_DATA, adapter=AndroidControlAdapter("qwen"),
)
CARDS = (OSATLAS, QWEN)
