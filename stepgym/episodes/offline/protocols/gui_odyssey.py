"""GUI-Odyssey under its official `action_matching` and `evaluate_GUIOdyssey.py` metrics."""

from __future__ import annotations

import ast
import json
from typing import Any

from stepgym.envs.core import ActionError
from stepgym.episodes.offline.card import OURS, THIRD_PARTY, VERIFIED, ProtocolCard, Source
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import (
    Adapter,
    MetricSpec,
    Native,
    PredictionError,
    arrow_from,
    extra,
    finger_direction,
    label,
    parse_mobile,
)
from stepgym.episodes.schema import Step
from stepgym.rewards.offline import gui_odyssey as rule


def parse_command(command: str) -> Native:
    """The official `simple_decode` of a command string ("CLICK: (x, y)", "TYPE: text", "PRESS_BACK").

    It splits on ':' as released, so typed text containing ':' is cut there (a quirk, kept).
    """
    parts = str(command).split(":")
    action = parts[0].strip()
    info: Any = parts[1].strip() if len(parts) > 1 else ""
    if action in ("CLICK", "LONG_PRESS") and info:
        try:
            info = list(ast.literal_eval(info))  # the released code eval()s it; literal_eval cannot run code
        except (ValueError, SyntaxError, TypeError):
            pass  # left as text: the matcher finds it unusable ('invalid')
    return {"action": action, "info": info}


class OdysseyAdapter(Adapter):
    benchmark = "gui_odyssey"
    key_fields = ("episode_id", "step")

    def step_key(self, ep: OfflineEpisode, step: Step) -> tuple[str, str]:
        return ep.episode.episode_id, str(step.step_id)

    def prediction_native(self, record: dict[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        if record.get("action") is None:
            if not isinstance(record.get("command"), str):
                raise PredictionError('a line needs "action" (CLICK, LONG_PRESS, SCROLL, TYPE, PRESS_HOME, PRESS_BACK, '
                                      'PRESS_RECENT, COMPLETE, IMPOSSIBLE) with "info", or the official "command" string')
            return parse_command(record["command"])
        if not isinstance(record["action"], str):
            raise PredictionError(f'"action" must be a string, got {record["action"]!r:.40}')
        info = record.get("info")
        return {"action": record["action"], "info": "" if info is None else info}

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any):
        return rule.match(pred, step.parsed_action, params)

    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        a = parse_mobile(text, step)
        w, h = step.screen
        kind = a["action_type"]
        if kind in ("click", "long_press"):
            return {"action": kind.upper(), "info": [a["x"] * 1000 / w, a["y"] * 1000 / h]}
        if kind in ("scroll", "swipe"):
            return {"action": "SCROLL", "info": finger_direction(a).upper()}
        if kind == "input_text":
            return {"action": "TYPE", "info": a["text"]}
        simple = {"navigate_home": "PRESS_HOME", "navigate_back": "PRESS_BACK"}
        if kind in simple:
            return {"action": simple[kind], "info": ""}
        if kind == "status":
            return {"action": "COMPLETE" if a["goal_status"] == "complete" else "IMPOSSIBLE", "info": ""}
        raise ActionError(f"GUI-Odyssey has no {kind} action; use click, long_press, scroll/swipe, input_text, "
                          "navigate_home, navigate_back or status")

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        gt = step.parsed_action
        w, h = step.screen
        a = gt["action"]
        if a in ("CLICK", "LONG_PRESS"):
            x, y = gt["info"]
            return json.dumps({"action_type": a.lower(), "x": round(x * w / 1000), "y": round(y * h / 1000)})
        if a == "SCROLL":
            return json.dumps({"action_type": "swipe", "direction": str(gt["info"]).lower()})
        if a == "TYPE":
            return json.dumps({"action_type": "input_text", "text": gt["info"]})
        if a in ("COMPLETE", "IMPOSSIBLE"):
            return json.dumps({"action_type": "status", "goal_status": "complete" if a == "COMPLETE" else "infeasible"})
        return json.dumps({"action_type": {"PRESS_HOME": "navigate_home", "PRESS_BACK": "navigate_back"}.get(a, a.lower())})

    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        if native is None:
            return []
        w, h = step.screen
        a = rule.normalise(native.get("action"))
        out: list[dict[str, Any]] = []
        box = native.get("sam2_bbox") or []
        if len(box) == 4:
            out.append({"kind": "box", "x1": box[0] * w / 1000, "y1": box[1] * h / 1000,
                        "x2": box[2] * w / 1000, "y2": box[3] * h / 1000})
        if a in ("CLICK", "LONG_PRESS"):
            try:
                x, y = rule._point(native.get("info"))
                out.append({"kind": "point", "x": x * w / 1000, "y": y * h / 1000})
            except (TypeError, ValueError, IndexError):
                out.append(label(f"{a} {native.get('info')!r:.40}"))
            return out
        if a == "SCROLL":
            return out + [arrow_from(w / 2, h / 2, str(native.get("info", "")).lower(), 0.2 * h),
                          label(f"SCROLL {native.get('info', '')}")]
        return out + [label(f"{a} {native.get('info') or ''}".strip())]

    def metrics(self, params: Any) -> list[MetricSpec]:
        full = lambda rows: float(len(rows) == rows[0]["episode_steps"])  # noqa: E731
        type_value = lambda r: float(r["type_match"])  # noqa: E731
        return [
            MetricSpec("ams", "action matching score: steps right / all steps"),
            MetricSpec("sr", "success rate: episodes with every step right (episodes whose scored steps differ "
                       "from step_length are left out, as released)", over="episodes", episode_weight=full),
            MetricSpec("type_accuracy", "steps not 'action_fail' (an unusable prediction counts as type-right, as released)",
                       value=type_value),
            MetricSpec("text_accuracy", "gt TYPE steps whose type matched: fraction with the text right",
                       value=extra("text_correct"), weight=extra("text_scored")),
            MetricSpec("category_mean.ams", "AMS per category, averaged over the categories", average="group"),
            MetricSpec("category_mean.sr", "SR per category, averaged over the categories", over="episodes",
                       episode_weight=full, average="group"),
        ]


_REPO = "OpenGVLab/GUI-Odyssey "
CARD = ProtocolCard(
    benchmark="gui_odyssey", protocol="official", title="OpenGVLab `GUIOdyssey_action_matching.py` + `evaluate_GUIOdyssey.py`",
    summary=("Coordinates on the 0–1000 grid; a click is right in the SAM2 box or within 0.14 (distance / 1000); "
             "typed text by containment or ANLS ≥ 0.5. The released random split reports the category mean "
             "('micro' in its code), the app / device / task splits the overall value ('macro')."),
    action_space={
        "CLICK / LONG_PRESS (x, y) on 0–1000": "`click` / `long_press` with x = x_grid·W/1000, y = y_grid·H/1000",
        "SCROLL UP/DOWN/LEFT/RIGHT (finger direction)": "`swipe` with that direction (`scroll` d = swipe opposite(d))",
        "TYPE text (TEXT in the data)": '`{"action_type": "input_text", "text"}`',
        "PRESS_HOME / PRESS_BACK": "`navigate_home` / `navigate_back`",
        "COMPLETE / IMPOSSIBLE": '`status` complete / infeasible',
        "PRESS_RECENT": "no stepgym equivalent (a policy cannot produce it)",
    },
    rules={
        "all": "the action names must be equal (TEXT read as TYPE), else 'action_fail'",
        "CLICK / LONG_PRESS": "point inside sam2_bbox (inclusive), or distance / 1000 ≤ click_coord_threshold",
        "TYPE": "either text contains the other (so an empty prediction matches), else ANLS = 1 - Lev / max len ≥ text_anls_threshold; case-sensitive",
        "SCROLL": "directions equal, case-insensitive",
        "PRESS_* / COMPLETE / IMPOSSIBLE": "right on the name alone",
        "unusable info (e.g. a CLICK without a point)": "'invalid': wrong, but type-right per unusable_counts_type_right",
    },
    params=rule.OdysseyParams,
    splits={"(none)": "every annotation file", "random / task / device / app": "the test list of splits/<name>_split.json",
            "<name>:train": "its train list"},
    levels={"high": "the policy sees task_info.instruction", "low": "it also sees the step's low_level_instruction"},
    metrics={"ams": "steps right / all steps", "sr": "episodes with every step right / episodes scored",
             "type_accuracy": "steps not 'action_fail' / all steps", "text_accuracy": "TYPE-type-matched steps with the text right / those steps",
             "category_mean": "{ams, sr} per category, averaged over the categories present (the released code asserts all 6)"},
    sources=(Source(_REPO + "src/eval_mm/GUIOdyssey_action_matching.py @e12788f", "TEXT_ANLS_THRESHOLD 0.5, CLICK_COORD_THRESHOLD 0.14, sam2_bbox containment, containment-or-ANLS, case-insensitive scroll"),
             Source(_REPO + "src/eval_mm/evaluate_GUIOdyssey.py @e12788f", "AMS, SR (skipping episodes whose step count differs), action_type = not action_fail, text = type_correct / type_*, micro = mean over 6 categories for random_split, ':'-split parsing"),
             Source(_REPO + "data/format_converter.py @872e48e", "decode_action: KEY_* → PRESS_*, info[0] points, finger-direction SCROLL (tie vertical), TEXT → TYPE, INCOMPLETE → IMPOSSIBLE"),
             Source(_REPO + "introduction.md", "annotation fields, [0, 1000] coordinates, split files {train, test}"),
             Source("v2 data (hflqf88888/GUIOdyssey) with sam2_bbox", "field seen in the evaluator; v2 files were not opened", THIRD_PARTY),
             Source("episode keys", "the release reads the episode from the screenshot name; stepgym uses episode_id", OURS),
             Source("prediction 'command' strings", "parsed like simple_decode, with ast.literal_eval instead of eval", VERIFIED)),
    data_layout="`annotations/*.json`, `screenshots/<episode_id>_<step>.png`, `splits/*_split.json` (or their parent `data/`)",
    adapter=OdysseyAdapter("official"),
)
CARDS = (CARD,)
