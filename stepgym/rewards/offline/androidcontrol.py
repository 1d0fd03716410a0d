"""AndroidControl step matching under the two conventions the field uses (there is no official one).

Actions are AndroidControl's own JSON dicts (`{"action_type": "click", "x": 313, "y": 708}`,
pixels of the step's screenshot). `osatlas` follows OS-Copilot/OS-Atlas
`eval/eval_scripts/android_control/evaluation_unify.py`; `qwen` follows the Qwen2.5-VL gist's
`evaluate_android_control.py` as InfiGUI-R1 ships it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepgym.rewards.offline.base import (
    StepMatch,
    distance,
    in_box,
    missing,
    scale_box,
    smallest_box_containing,
)
from stepgym.rewards.offline.text import token_set_f1


def _kind(action: Mapping[str, Any] | None) -> str:
    if not isinstance(action, Mapping) or not isinstance(action.get("action_type"), str):
        return "invalid"
    return action["action_type"].strip().lower()


def _point(action: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        x, y = float(action["x"]), float(action["y"])
    except (KeyError, TypeError, ValueError):
        return None
    return (x, y) if math.isfinite(x) and math.isfinite(y) else None


# -- OS-Atlas ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class OSAtlasParams:
    """OS-Atlas' AndroidControl rule, defaults as released."""

    grid: int = 1000
    """Points are rescaled to a grid of this size (x * grid / width, y * grid / height)."""
    click_distance: float = 140.0
    """A click or long press is right within this distance on the grid ("0.14*1000")."""
    text_f1_threshold: float = 0.5
    """TYPE and OPEN_APP are right on an exact action string or F1 above this."""
    text_tokens: str = "first"
    """"first": F1 of `action.split()[1]`, the first word with its bracket, as released (a quirk);
    "all": F1 over the whole text."""
    round_points: bool = True
    """Grid points are integers (the script reads them with a `\\d+` regex); rounding, not
    truncation, is stepgym's choice (how OS-Atlas converted pixels is not published)."""

    def __post_init__(self) -> None:
        if self.text_tokens not in ("first", "all"):
            raise ValueError(f"text_tokens must be 'first' or 'all', got {self.text_tokens!r}")


def osatlas_string(action: Mapping[str, Any] | None, screen: tuple[int, int], params: OSAtlasParams = OSAtlasParams()) -> str:
    """The action in OS-Atlas' command vocabulary (`CLICK <point>[[x,y]]</point>`, `TYPE [text]`, ...)."""
    kind = _kind(action)
    w, h = screen
    if kind in ("click", "long_press"):
        p = _point(action)
        if p is None:
            return kind.upper()
        gx, gy = p[0] * params.grid / w, p[1] * params.grid / h
        if params.round_points:
            gx, gy = round(gx), round(gy)
        return f"{kind.upper()} <point>[[{gx},{gy}]]</point>"
    if kind in ("type", "input_text"):
        return f"TYPE [{action.get('text', '')}]"
    if kind == "open_app":
        return f"OPEN_APP [{action.get('app_name', '')}]"
    if kind == "scroll":
        return f"SCROLL [{str(action.get('direction', '')).upper()}]"
    return {"navigate_back": "PRESS_BACK", "navigate_home": "PRESS_HOME", "wait": "WAIT"}.get(kind, kind.upper())


def _grid_point(text: str) -> tuple[float, float] | None:
    nums = re.findall(r"-?\d+(?:\.\d+)?", text)
    return (float(nums[0]), float(nums[1])) if len(nums) >= 2 else None


def _text_f1(pred: str, gt: str, params: OSAtlasParams) -> float:
    if params.text_tokens == "first":
        p, g = pred.split(), gt.split()
        if len(p) < 2 or len(g) < 2:
            return 0.0
        return token_set_f1(p[1], g[1], lowercase=True, empty_both=0.0)
    body = lambda s: s.split(" ", 1)[1].strip("[]") if " " in s else ""  # noqa: E731
    return token_set_f1(body(pred), body(gt), lowercase=True, empty_both=0.0)


def match_osatlas(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], screen: tuple[int, int],
                  params: OSAtlasParams = OSAtlasParams()) -> StepMatch:
    """OS-Atlas' verdict: types compared on the command word, then per type (see the card)."""
    g = osatlas_string(gt, screen, params)
    g_type = g.split()[0]
    if pred is None:
        return missing(g_type)
    p = osatlas_string(pred, screen, params)
    p_type = p.split()[0] if p.split() else "INVALID"
    extras: dict[str, float | bool] = {}
    if p_type != g_type:
        return StepMatch(g_type, p_type, False, False, extras)
    if g_type in ("CLICK", "LONG_PRESS"):
        pp, gp = _grid_point(p), _grid_point(g)
        if pp is None:
            pp = (-100.0, -100.0)  # the script's fallback for an unreadable point
        correct = gp is not None and distance(pp, gp) <= params.click_distance
        extras["click_distance"] = min(1.0, distance(pp, gp) / params.grid) if gp else 1.0
    elif g_type in ("TYPE", "OPEN_APP"):
        f1 = _text_f1(p, g, params)
        extras["text_f1"] = f1
        correct = p == g or f1 > params.text_f1_threshold
    else:
        correct = p == g
    return StepMatch(g_type, p_type, True, bool(correct), extras)


# -- Qwen2.5-VL gist / InfiGUI-R1 ---------------------------------------------------------------
@dataclass(frozen=True)
class QwenParams:
    """The Qwen2.5-VL gist's AndroidControl rule (InfiGUI-R1's copy), defaults as released."""

    bbox_enlarge: float = 1.2
    """Candidate boxes are scaled by this about their centre (`BBOX_ENLARGE_FACTOR`)."""
    point_distance_fraction: float = 0.04
    """Or a click is right within this fraction of max(width, height) pixels of the gt point."""
    candidate_boxes: str = "smallest"
    """Where a gt click's `candidate_bbox` comes from. Not published: "smallest" = the smallest
    accessibility node containing the gt point (UGround#28's "minimal enclosing element"),
    "all" = every node containing it, "none" = distance only."""
    open_app_accepts_click: bool = True
    """A gt `open_app` is also right for a click inside a candidate box of the app (as released);
    stepgym takes the boxes of nodes whose text or description is the app name (unpublished)."""

    def __post_init__(self) -> None:
        if self.candidate_boxes not in ("smallest", "all", "none"):
            raise ValueError(f"candidate_boxes must be 'smallest', 'all' or 'none', got {self.candidate_boxes!r}")


def qwen_kind(action: Mapping[str, Any] | None) -> str:
    """The gist's action kind: click, long_press, type, open, swipe, system_button, wait."""
    kind = _kind(action)
    return {"input_text": "type", "type": "type", "open_app": "open", "scroll": "swipe",
            "navigate_back": "system_button", "navigate_home": "system_button"}.get(kind, kind)


def candidate_boxes(gt: Mapping[str, Any], elements: Sequence[Mapping[str, Any]], params: QwenParams) -> list[list[float]]:
    """The gt step's candidate boxes (pixels) under `params.candidate_boxes`."""
    boxes = [list(map(float, e["bbox"])) for e in elements if e.get("bbox")]
    kind = qwen_kind(gt)
    if kind == "open":
        name = str(gt.get("app_name", "")).strip().lower()
        return [list(map(float, e["bbox"])) for e in elements if e.get("bbox") and name
                and name in (str(e.get("text", "")).strip().lower(), str(e.get("content_description", "")).strip().lower())]
    p = _point(gt)
    if p is None or params.candidate_boxes == "none":
        return []
    if params.candidate_boxes == "all":
        return [b for b in boxes if in_box(p[0], p[1], b)]
    i = smallest_box_containing(p[0], p[1], boxes)
    return [] if i is None else [boxes[i]]


def _check_click(click: tuple[float, float], boxes: list[list[float]], gt_point: tuple[float, float] | None,
                 screen: tuple[int, int], params: QwenParams) -> bool:
    if any(in_box(click[0], click[1], scale_box(b, params.bbox_enlarge)) for b in boxes):
        return True
    return gt_point is not None and distance(click, gt_point) <= params.point_distance_fraction * max(screen)


def _contains_either(a: Any, b: Any) -> bool:
    a, b = str(a).lower().strip(), str(b).lower().strip()
    return a in b or b in a


def match_qwen(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], screen: tuple[int, int],
               elements: Sequence[Mapping[str, Any]] = (), params: QwenParams = QwenParams()) -> StepMatch:
    """The gist's (type match, exact match) for one step."""
    g_kind = qwen_kind(gt)
    if pred is None:
        return missing(g_kind)
    p_kind = qwen_kind(pred)
    boxes = candidate_boxes(gt, elements, params)

    def verdict(type_ok: bool, ok: bool, **extras: float | bool) -> StepMatch:
        return StepMatch(g_kind, p_kind, type_ok, type_ok and ok, dict(extras))

    if g_kind == "open" and p_kind == "click" and params.open_app_accepts_click:
        pp = _point(pred)
        if not boxes or pp is None:
            return verdict(False, False)
        b = boxes[0]
        centre = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        return verdict(True, _check_click(pp, boxes, centre, screen, params))
    if p_kind != g_kind:
        return verdict(False, False)
    if g_kind == "wait":
        return verdict(True, True)
    if g_kind == "system_button":
        return verdict(True, _kind(pred) == _kind(gt))
    if g_kind in ("type", "open"):
        field_name = "text" if g_kind == "type" else "app_name"
        return verdict(True, _contains_either(pred.get(field_name, ""), gt.get(field_name, "")))
    if g_kind == "swipe":
        return verdict(True, str(pred.get("direction", "")).lower() == str(gt.get("direction", "")).lower())
    if g_kind in ("click", "long_press"):
        pp = _point(pred)
        return verdict(True, pp is not None and _check_click(pp, boxes, _point(gt), screen, params),
                       in_candidate_box=bool(pp and any(in_box(pp[0], pp[1], scale_box(b, params.bbox_enlarge)) for b in boxes)))
    return StepMatch(g_kind, p_kind, False, False, note=f"gt action type {g_kind!r} has no rule")
