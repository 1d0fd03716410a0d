"""Step matching for stepgym's own GUI envs: Mobile-v0 (AndroidWorld JSON) and Desktop-v0 (computer_13).

Both sides are the envs' parsed action dicts (what `info["parsed_action"]` holds). A Mobile-v0
element `index` refers to the step's element list (`elements`: dicts with `index` and `bbox`
[left, top, right, bottom] pixels); Desktop-v0 lists element centres only (`x`, `y`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepgym.rewards.offline.base import (
    StepMatch,
    distance,
    in_box,
    missing,
    smallest_box_containing,
)

POINTED_MOBILE = ("click", "double_tap", "long_press")
POINTED_DESKTOP = ("CLICK", "DOUBLE_CLICK", "RIGHT_CLICK", "MOVE_TO", "DRAG_TO")
_OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}


@dataclass(frozen=True)
class StepgymParams:
    """stepgym's rule for its own recordings (no published counterpart: these are our choices)."""

    click_distance_fraction: float = 0.04
    """Without an element box, a point is right within this fraction of max(width, height)."""
    text_match: str = "exact"
    """Typed text and answers: "exact" (after strip), "casefold", or "contains" (either way)."""

    def __post_init__(self) -> None:
        if self.text_match not in ("exact", "casefold", "contains"):
            raise ValueError(f"text_match must be 'exact', 'casefold' or 'contains', got {self.text_match!r}")


def _text_ok(a: Any, b: Any, params: StepgymParams) -> bool:
    a, b = str(a or "").strip(), str(b or "").strip()
    if params.text_match == "exact":
        return a == b
    a, b = a.casefold(), b.casefold()
    return a == b if params.text_match == "casefold" else (a in b or b in a)


def mobile_point(action: Mapping[str, Any], elements: Sequence[Mapping[str, Any]]) -> tuple[float, float] | None:
    """Where a Mobile-v0 action touches: its element's centre, or its x, y; None if neither."""
    if action.get("index") is not None:
        for e in elements:
            if e.get("index") == action["index"]:
                left, top, right, bottom = e["bbox"]
                return (left + right) / 2, (top + bottom) / 2
        return None
    if action.get("x") is not None and action.get("y") is not None:
        return float(action["x"]), float(action["y"])
    return None


def mobile_target_box(action: Mapping[str, Any], elements: Sequence[Mapping[str, Any]]) -> list[float] | None:
    """The element box a Mobile-v0 ground-truth action aims at (its index, or the smallest box under x, y)."""
    if action.get("index") is not None:
        for e in elements:
            if e.get("index") == action["index"]:
                return list(map(float, e["bbox"]))
        return None
    p = mobile_point(action, elements)
    if p is None:
        return None
    boxes = [list(map(float, e["bbox"])) for e in elements if e.get("bbox")]
    i = smallest_box_containing(p[0], p[1], boxes)
    return None if i is None else boxes[i]


def mobile_kind(action: Mapping[str, Any]) -> str:
    """The action type, with a swipe folded into the scroll it causes (swipe up = scroll down)."""
    return "scroll" if action.get("action_type") == "swipe" else str(action.get("action_type", "invalid"))


def _mobile_direction(action: Mapping[str, Any]) -> str:
    d = str(action.get("direction", "")).lower()
    return _OPPOSITE.get(d, d) if action.get("action_type") == "swipe" else d


def match_mobile(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], screen: tuple[int, int],
                 elements: Sequence[Mapping[str, Any]] = (), params: StepgymParams = StepgymParams()) -> StepMatch:
    """Mobile-v0: same type, then the point in the gt element (or near the gt point), the same
    scroll direction, text, app, answer or status."""
    g_kind = mobile_kind(gt)
    if pred is None:
        return missing(g_kind)
    p_kind = mobile_kind(pred)
    if p_kind != g_kind:
        return StepMatch(g_kind, p_kind, False, False)
    if g_kind in POINTED_MOBILE:
        pp = mobile_point(pred, elements)
        box = mobile_target_box(gt, elements)
        gp = mobile_point(gt, elements)
        if pp is None:
            ok = False
        elif box is not None:
            ok = in_box(pp[0], pp[1], box)
        else:
            ok = gp is not None and distance(pp, gp) <= params.click_distance_fraction * max(screen)
        return StepMatch(g_kind, p_kind, True, ok, {"grounded": ok})
    if g_kind == "scroll":
        return StepMatch(g_kind, p_kind, True, _mobile_direction(pred) == _mobile_direction(gt))
    if g_kind in ("input_text", "answer"):
        return StepMatch(g_kind, p_kind, True, _text_ok(pred.get("text"), gt.get("text"), params))
    if g_kind == "open_app":
        return StepMatch(g_kind, p_kind, True, str(pred.get("app_name", "")).strip().casefold()
                         == str(gt.get("app_name", "")).strip().casefold())
    if g_kind == "status":
        return StepMatch(g_kind, p_kind, True, pred.get("goal_status") == gt.get("goal_status"))
    return StepMatch(g_kind, p_kind, True, True)  # keyboard_enter, navigate_*, wait


# -- Desktop-v0 -------------------------------------------------------------------------------
def _primitives(action: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """computer_13 parses to one dict; pyautogui code to {"actions": [...]}: compare the lists."""
    return list(action["actions"]) if "actions" in action else [action]


def _nearest(p: Sequence[float], centres: Sequence[Sequence[float]]) -> int | None:
    if not centres:
        return None
    return min(range(len(centres)), key=lambda i: distance(p, centres[i]))


def _desktop_one(pred: Mapping[str, Any], gt: Mapping[str, Any], screen: tuple[int, int],
                 centres: Sequence[Sequence[float]], params: StepgymParams) -> bool:
    kind = gt.get("action_type")
    if pred.get("action_type") != kind:
        return False
    if kind in POINTED_DESKTOP:
        if gt.get("x") is None:
            return pred.get("x") is None
        if pred.get("x") is None:
            return False
        p, g = (float(pred["x"]), float(pred["y"])), (float(gt["x"]), float(gt["y"]))
        near = distance(p, g) <= params.click_distance_fraction * max(screen)
        same_element = _nearest(p, centres) == _nearest(g, centres)
        clicks_ok = pred.get("num_clicks", 1) == gt.get("num_clicks", 1) and pred.get("button", "left") == gt.get("button", "left")
        return near and same_element and clicks_ok
    if kind == "TYPING":
        return _text_ok(pred.get("text"), gt.get("text"), params)
    if kind in ("PRESS", "KEY_DOWN", "KEY_UP"):
        return str(pred.get("key", "")).lower() == str(gt.get("key", "")).lower()
    if kind == "HOTKEY":
        return [str(k).lower() for k in pred.get("keys", [])] == [str(k).lower() for k in gt.get("keys", [])]
    if kind == "SCROLL":
        sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
        return sign(pred.get("dy", 0) or 0) == sign(gt.get("dy", 0) or 0) and sign(pred.get("dx", 0) or 0) == sign(gt.get("dx", 0) or 0)
    return True  # MOUSE_DOWN/UP, WAIT, DONE, FAIL: the type decides


def desktop_kind(action: Mapping[str, Any]) -> str:
    """The first primitive's action type (pyautogui code may hold several)."""
    prims = _primitives(action)
    return str(prims[0].get("action_type", "invalid")) if prims else "invalid"


def match_desktop(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], screen: tuple[int, int],
                  elements: Sequence[Mapping[str, Any]] = (), params: StepgymParams = StepgymParams()) -> StepMatch:
    """Desktop-v0: the same primitives in order; points near the gt point and nearest to the same
    listed element, the same text, keys and scroll sense."""
    g_kind = desktop_kind(gt)
    if pred is None:
        return missing(g_kind)
    p_kind = desktop_kind(pred)
    centres = [(float(e["x"]), float(e["y"])) for e in elements if e.get("x") is not None]
    gp, pp = _primitives(gt), _primitives(pred)
    ok = len(gp) == len(pp) and all(_desktop_one(p, g, screen, centres, params) for p, g in zip(pp, gp))
    extras: dict[str, float | bool] = {}
    if g_kind in POINTED_DESKTOP:
        extras["grounded"] = ok
    return StepMatch(g_kind, p_kind, p_kind == g_kind, bool(ok), extras)
