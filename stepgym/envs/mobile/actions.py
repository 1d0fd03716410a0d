"""AndroidWorld's JSON actions: parsing text or dicts into checked action dicts."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from stepgym.envs.core import ActionError

#: action type -> what it takes (for messages)
ACTION_TYPES: dict[str, str] = {
    "click": "index or x, y",
    "double_tap": "index or x, y",
    "long_press": "index or x, y",
    "scroll": "direction (up/down/left/right), optional index or x, y",
    "swipe": "direction (up/down/left/right), optional index or x, y",
    "input_text": "text, optional index, optional clear_text",
    "keyboard_enter": "nothing",
    "navigate_home": "nothing",
    "navigate_back": "nothing",
    "open_app": "app_name",
    "wait": "nothing",
    "status": "goal_status (complete or infeasible)",
    "answer": "text",
}
DIRECTIONS = ("up", "down", "left", "right")
POINTED = ("click", "double_tap", "long_press")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _json_object(text: str) -> dict[str, Any]:
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ActionError(f"expected one JSON object like {{\"action_type\": \"click\", \"index\": 3}}, got {text.strip()[:60]!r}")
    try:
        value = json.loads(text[start:end + 1])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ActionError(f"action is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc}): {text[start:end + 1][:60]!r}") from None
    if not isinstance(value, dict):
        raise ActionError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
        raise ActionError(f"{name} must be an integer, got {value!r:.40}")
    if not low <= int(value) <= high:
        raise ActionError(f"{name}={int(value)} is outside the screen; expected {low}..{high}")
    return int(value)


def parse(action: str | dict, screen: tuple[int, int]) -> dict[str, Any]:
    """A checked action dict from AndroidWorld JSON text or a dict; ActionError names what is wrong.

    Coordinates must lie on the `screen` (width, height); element indices are checked later
    against the observed element list.
    """
    raw = _json_object(action) if isinstance(action, str) else dict(action)
    kind = raw.get("action_type")
    if not isinstance(kind, str) or kind.strip().lower() not in ACTION_TYPES:
        raise ActionError(f"unknown action_type {kind!r:.40}; expected one of {', '.join(ACTION_TYPES)}")
    kind = kind.strip().lower()
    w, h = screen
    out: dict[str, Any] = {"action_type": kind}
    if "index" in raw and raw["index"] is not None:
        out["index"] = _int(raw["index"], "index", 0, 10_000)
    has_xy = raw.get("x") is not None or raw.get("y") is not None
    if has_xy:
        if raw.get("x") is None or raw.get("y") is None:
            raise ActionError(f"{kind} needs both x and y (or an element index)")
        out["x"] = _int(raw["x"], "x", 0, w - 1)
        out["y"] = _int(raw["y"], "y", 0, h - 1)
    if kind in POINTED and "index" not in out and "x" not in out:
        raise ActionError(f"{kind} needs an element index or x and y, e.g. {{\"action_type\": \"{kind}\", \"index\": 2}}")
    if kind in ("scroll", "swipe"):
        d = raw.get("direction")
        if not isinstance(d, str) or d.lower() not in DIRECTIONS:
            raise ActionError(f"{kind} needs direction one of {DIRECTIONS}, got {d!r:.40}")
        out["direction"] = d.lower()
    elif kind in ("input_text", "answer"):
        text = raw.get("text")
        if not isinstance(text, str):
            raise ActionError(f"{kind} needs text as a string, got {text!r:.40}")
        if len(text) > 2000:
            raise ActionError(f"{kind} text is {len(text)} characters; at most 2000")
        out["text"] = text
        if kind == "input_text":
            clear = raw.get("clear_text", False)
            if not isinstance(clear, bool):
                raise ActionError(f"clear_text must be true or false, got {clear!r:.40}")
            out["clear_text"] = clear
    elif kind == "open_app":
        name = raw.get("app_name")
        if not isinstance(name, str) or not name.strip():
            raise ActionError(f"open_app needs app_name (a string), got {name!r:.40}")
        out["app_name"] = name.strip()
    elif kind == "status":
        status = raw.get("goal_status")
        if status not in ("complete", "infeasible"):
            raise ActionError(f"status needs goal_status 'complete' or 'infeasible', got {status!r:.40}")
        out["goal_status"] = status
    return out


def to_text(action: dict[str, Any]) -> str:
    """The JSON text of an action dict (keys in a fixed order)."""
    return json.dumps(action, ensure_ascii=False)
