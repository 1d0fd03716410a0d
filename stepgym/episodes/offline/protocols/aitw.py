"""AITW under google-research's `check_actions_match`: the card and its adapter."""

from __future__ import annotations

import json
from typing import Any

from stepgym.envs.core import ActionError
from stepgym.episodes.offline.card import THIRD_PARTY, UNVERIFIED, VERIFIED, ProtocolCard, Source
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import (
    Adapter,
    MetricSpec,
    Native,
    PredictionError,
    finger_direction,
    finite_point,
    label,
    parse_mobile,
)
from stepgym.episodes.schema import Step
from stepgym.rewards.offline import aitw as rule

_REPO = "google-research/google-research android_in_the_wild/"
SWIPE_LENGTH = 0.3  # normalised length of the swipe a direction-only policy action becomes
_DIRECTION_YX = {"up": (-1.0, 0.0), "down": (1.0, 0.0), "left": (0.0, -1.0), "right": (0.0, 1.0)}


class AITWAdapter(Adapter):
    benchmark = "aitw"
    key_fields = ("episode_id", "step_id")

    def step_key(self, ep: OfflineEpisode, step: Step) -> tuple[str, str]:
        return ep.episode.episode_id, str(step.step_id)

    def prediction_native(self, record: dict[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        t = record.get("action_type")
        if isinstance(t, bool) or not isinstance(t, int):
            raise PredictionError(f"action_type must be an ActionType int (3 TYPE, 4 DUAL_POINT, 5 BACK, "
                                  f"6 HOME, 7 ENTER, 10 COMPLETE, 11 IMPOSSIBLE), got {t!r:.40}")
        touch = finite_point(record.get("touch_yx", [-1, -1]))
        lift = finite_point(record.get("lift_yx", touch))
        return {"action_type": t, "touch_yx": touch, "lift_yx": lift, "typed_text": str(record.get("typed_text") or "")}

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any):
        gt = dict(step.parsed_action, annotation_positions=[e["yxhw"] for e in step.elements if "yxhw" in e])
        return rule.match(pred, gt, params)

    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        a = parse_mobile(text, step)
        w, h = step.screen
        kind = a["action_type"]
        if kind in ("click", "double_tap", "long_press"):
            yx = [a["y"] / h, a["x"] / w]
            return {"action_type": 4, "touch_yx": yx, "lift_yx": list(yx), "typed_text": ""}
        if kind in ("scroll", "swipe"):
            y0, x0 = (a["y"] / h, a["x"] / w) if "x" in a else (0.5, 0.5)
            dy, dx = _DIRECTION_YX[finger_direction(a)]
            lift = [min(1.0, max(0.0, y0 + dy * SWIPE_LENGTH)), min(1.0, max(0.0, x0 + dx * SWIPE_LENGTH))]
            return {"action_type": 4, "touch_yx": [y0, x0], "lift_yx": lift, "typed_text": ""}
        simple = {"input_text": 3, "navigate_back": 5, "navigate_home": 6, "keyboard_enter": 7}
        if kind in simple:
            return {"action_type": simple[kind], "touch_yx": [-1.0, -1.0], "lift_yx": [-1.0, -1.0],
                    "typed_text": a.get("text", "")}
        if kind == "status":
            t = 10 if a["goal_status"] == "complete" else 11
            return {"action_type": t, "touch_yx": [-1.0, -1.0], "lift_yx": [-1.0, -1.0], "typed_text": ""}
        raise ActionError(f"AITW has no {kind} action; use click, swipe/scroll, input_text, keyboard_enter, "
                          "navigate_back/home or status")

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        gt = step.parsed_action
        w, h = step.screen
        t = gt["action_type"]
        if t == 4:
            (y0, x0), (y1, x1) = gt["touch_yx"], gt["lift_yx"]
            if rule.is_tap(gt["touch_yx"], gt["lift_yx"]):
                return json.dumps({"action_type": "click", "x": round(x0 * w), "y": round(y0 * h)})
            dy, dx = y1 - y0, x1 - x0
            d = ("down" if dy > 0 else "up") if abs(dy) >= abs(dx) else ("right" if dx > 0 else "left")
            return json.dumps({"action_type": "swipe", "direction": d})
        if t == 3:
            return json.dumps({"action_type": "input_text", "text": gt.get("typed_text", "")})
        names = {5: "navigate_back", 6: "navigate_home", 7: "keyboard_enter"}
        if t in names:
            return json.dumps({"action_type": names[t]})
        return json.dumps({"action_type": "status", "goal_status": "complete" if t == 10 else "infeasible"})

    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        if native is None:
            return []
        w, h = step.screen
        t = native["action_type"]
        if t == 4:
            (y0, x0), (y1, x1) = native["touch_yx"], native["lift_yx"]
            if rule.is_tap(native["touch_yx"], native["lift_yx"]):
                return [{"kind": "point", "x": x0 * w, "y": y0 * h}]
            return [{"kind": "arrow", "x1": x0 * w, "y1": y0 * h, "x2": x1 * w, "y2": y1 * h}]
        text = rule.ACTION_TYPES.get(t, str(t))
        if t == 3:
            text += f' "{native.get("typed_text", "")}"'
        return [label(text)]

    def metrics(self, params: Any) -> list[MetricSpec]:
        return [
            MetricSpec("action_matching", "check_actions_match per step, averaged within each subset, then over subsets",
                       average="group"),
            MetricSpec("action_matching_all_steps", "check_actions_match over all steps pooled"),
            MetricSpec("type_accuracy", "predicted ActionType int equals the gt's (tap and swipe are both 4)",
                       value=lambda r: float(r["type_match"])),
            MetricSpec("episode_success", "episodes whose every step matches", over="episodes"),
        ]


CARD = ProtocolCard(
    benchmark="aitw", protocol="official", title="google-research `check_actions_match`",
    summary=("Android in the Wild, scored step by step with the released action matcher; the headline "
             "is the mean over subsets of each subset's per-step match rate, as the README asks."),
    action_space={
        "DUAL_POINT (touch≈lift, ≤ 0.04 apart)": '`{"action_type": "click", "x", "y"}` (x = x_norm·W, y = y_norm·H; long_press and double_tap map to this tap too)',
        "DUAL_POINT (swipe)": '`{"action_type": "swipe", "direction"}` (finger direction; `scroll` d is a swipe the other way), touch at the point or the screen centre, lift 0.3 further',
        "TYPE (3)": '`{"action_type": "input_text", "text"}`',
        "PRESS_BACK (5) / PRESS_HOME (6) / PRESS_ENTER (7)": "`navigate_back` / `navigate_home` / `keyboard_enter`",
        "STATUS_TASK_COMPLETE (10) / STATUS_TASK_IMPOSSIBLE (11)": '`{"action_type": "status", "goal_status": "complete" | "infeasible"}`',
        "(none)": "`open_app`, `wait`, `answer` have no AITW equivalent: such a prediction is unusable and wrong",
    },
    rules={
        "any non-DUAL_POINT on either side": "right iff the two ActionType ints are equal; TYPE's text is not compared",
        "DUAL_POINT vs DUAL_POINT": "a tap (touch–lift ≤ swipe_distance_threshold) never matches a swipe",
        "tap vs tap": "right if both touches fall in one annotation box enlarged by the augment fractions (inclusive), or are ≤ tap_distance_threshold apart in normalised (y, x)",
        "swipe vs swipe": "right iff the main axis (argmax |Δ|, a tie picks y) is the same: direction is ignored, up matches down",
        "screen without annotation boxes": "per `no_annotations`: the released matcher raises on it (numpy does; JAX's behaviour was not run), so its users count the step wrong",
    },
    params=rule.AITWParams,
    splits={"(none)": "every episode in DATA_DIR",
            "LABEL with --set split_file=PATH": "episodes listed under LABEL (train / validation / test) in a split JSON {label: [episode ids]} (standard or one of the OOD splits)"},
    levels={},
    metrics={
        "action_matching": "mean over subsets of the per-subset fraction of matching steps (README: evaluate each dataset separately and average; SeeClick divides the five subset scores by 5)",
        "action_matching_all_steps": "fraction of matching steps, all subsets pooled",
        "type_accuracy": "fraction of steps whose ActionType int is right (SeeClick's type accuracy)",
        "episode_success": "fraction of episodes with every step matching",
    },
    sources=(
        Source(_REPO + "action_matching.py @1d49f2c", "check_actions_match, thresholds 0.14 / 1.4 / 1.4 / 0.04, box enlargement and clipping, axis-only swipes"),
        Source(_REPO + "action_type.py", "ActionType ints TYPE=3 … STATUS_TASK_IMPOSSIBLE=11"),
        Source(_REPO + "README.md", "one GZIP TFRecord Example per step, field names, subsets, per-subset averaging, split JSON format"),
        Source(_REPO + "visualization_utils.py", "image/encoded is raw uint8 reshaped to H×W×C; results/* are float / int64 / bytes lists; every record has yx_touch and yx_lift"),
        Source("njucckevin/SeeClick agent_tasks/aitw_test.py", "type accuracy; the sum of subset scores divided by 5", VERIFIED),
        Source("3rd-party AITW readers", "results/yx_touch as FixedLenFeature([2], float32)", THIRD_PARTY),
        Source("split file names under gs://gresearch/android-in-the-wild/splits", "not checked: pass the file explicitly", UNVERIFIED),
        Source("jnp.max over an empty annotation list", "numpy raises; JAX was not run here: kept the `no_annotations` parameter", UNVERIFIED),
    ),
    data_layout="subset folders `google_apps/ install/ web_shopping/ general/ single/` of GZIP TFRecord files (or TFRecord files directly); optional split JSON",
    adapter=AITWAdapter("official"),
)
CARDS = (CARD,)
