"""OSWorld's two action spaces: `computer_13` dicts and `pyautogui` code, parsed without running code.

Both parse into the same normalised dicts (`{"action_type": "CLICK", "x": 10, "y": 20, ...}`),
which `apply_action` maps onto Playwright's mouse and keyboard. pyautogui code is read with
`ast`: only whitelisted `pyautogui.*` calls (and `time.sleep`) whose arguments are literals
pass; anything else, such as `__import__('os').system(...)`, is rejected before it could run.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from stepgym.envs.core import ActionError

ACTION_TYPES = (
    "MOVE_TO", "CLICK", "MOUSE_DOWN", "MOUSE_UP", "RIGHT_CLICK", "DOUBLE_CLICK", "DRAG_TO",
    "SCROLL", "TYPING", "PRESS", "KEY_DOWN", "KEY_UP", "HOTKEY", "WAIT", "FAIL", "DONE",
)
SPECIAL = ("WAIT", "FAIL", "DONE")
BUTTONS = ("left", "right", "middle")
MAX_TEXT = 2000
MAX_CALLS = 20
SCROLL_PIXELS = 100  # one wheel click

# pyautogui key names -> Playwright key names (single printable characters pass through)
KEYS: dict[str, str] = {
    "enter": "Enter", "return": "Enter", "\n": "Enter", "tab": "Tab", "\t": "Tab", "esc": "Escape",
    "escape": "Escape", "backspace": "Backspace", "delete": "Delete", "del": "Delete", "space": " ",
    "up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight",
    "home": "Home", "end": "End", "pageup": "PageUp", "pagedown": "PageDown", "pgup": "PageUp",
    "pgdn": "PageDown", "insert": "Insert", "capslock": "CapsLock",
    "ctrl": "Control", "control": "Control", "ctrlleft": "Control", "ctrlright": "Control",
    "shift": "Shift", "shiftleft": "Shift", "shiftright": "Shift", "alt": "Alt", "altleft": "Alt",
    "altright": "Alt", "option": "Alt", "win": "Meta", "winleft": "Meta", "winright": "Meta",
    "command": "Meta", "cmd": "Meta", "super": "Meta", "meta": "Meta",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}


def playwright_key(key: Any) -> str:
    """Playwright's name for a pyautogui / OSWorld key name; ActionError for unknown keys."""
    if not isinstance(key, str) or not key:
        raise ActionError(f"a key must be a non-empty string like 'enter', 'ctrl' or 'a', got {key!r}")
    if len(key) == 1 and key.isprintable():
        return key
    name = KEYS.get(key.lower())
    if name is None:
        raise ActionError(
            f"unknown key {key!r}; expected a single character or one of enter, tab, esc, backspace, "
            "delete, space, up/down/left/right, home, end, pageup, pagedown, ctrl, shift, alt, win, f1-f12"
        )
    return name


# -- computer_13 -----------------------------------------------------------------------------
def _num(d: dict, key: str, default: Any = None) -> Any:
    v = d.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ActionError(f"{d.get('action_type')} needs a number for {key!r}, got {v!r}")
    return v


def _xy(d: dict, viewport: tuple[int, int], required: bool) -> tuple[int, int] | None:
    x, y = _num(d, "x"), _num(d, "y")
    if x is None and y is None:
        if required:
            raise ActionError(f"{d['action_type']} needs integer pixel coordinates x and y")
        return None
    if x is None or y is None:
        raise ActionError(f"{d['action_type']} needs both x and y, got x={x!r} y={y!r}")
    w, h = viewport
    if not (0 <= x < w and 0 <= y < h):
        raise ActionError(f"({x}, {y}) is off the screen; x must be in [0, {w - 1}] and y in [0, {h - 1}]")
    return int(round(x)), int(round(y))


def _button(d: dict) -> str:
    b = d.get("button", "left")
    if b not in BUTTONS:
        raise ActionError(f"button must be one of {', '.join(BUTTONS)}, got {b!r}")
    return b


def normalize(d: dict, viewport: tuple[int, int]) -> dict[str, Any]:
    """A validated computer_13 action dict in canonical form; ActionError names what is wrong."""
    if not isinstance(d, dict):
        raise ActionError(f"a computer_13 action is a dict with 'action_type', got {type(d).__name__}")
    kind = d.get("action_type")
    if not isinstance(kind, str) or kind.upper() not in ACTION_TYPES:
        raise ActionError(f"action_type must be one of {', '.join(ACTION_TYPES)}, got {kind!r}")
    kind = kind.upper()
    d = {**d, "action_type": kind}
    out: dict[str, Any] = {"action_type": kind}
    if kind in ("MOVE_TO", "DRAG_TO"):
        out["x"], out["y"] = _xy(d, viewport, required=True)
    elif kind == "CLICK":
        xy = _xy(d, viewport, required=False)
        if xy:
            out["x"], out["y"] = xy
        out["button"] = _button(d)
        n = d.get("num_clicks", 1)
        if n not in (1, 2, 3):
            raise ActionError(f"num_clicks must be 1, 2 or 3, got {n!r}")
        out["num_clicks"] = n
    elif kind in ("RIGHT_CLICK", "DOUBLE_CLICK"):
        xy = _xy(d, viewport, required=False)
        if xy:
            out["x"], out["y"] = xy
    elif kind in ("MOUSE_DOWN", "MOUSE_UP"):
        out["button"] = _button(d)
    elif kind == "SCROLL":
        dx, dy = _num(d, "dx", 0), _num(d, "dy", 0)
        if abs(dx) > 100 or abs(dy) > 100:
            raise ActionError(f"SCROLL dx and dy are wheel clicks in [-100, 100], got dx={dx} dy={dy}")
        out["dx"], out["dy"] = int(dx), int(dy)
    elif kind == "TYPING":
        text = d.get("text")
        if not isinstance(text, str) or not text:
            raise ActionError(f"TYPING needs a non-empty string 'text', got {text!r}")
        if len(text) > MAX_TEXT:
            raise ActionError(f"TYPING text is {len(text)} characters; at most {MAX_TEXT}")
        out["text"] = text
    elif kind in ("PRESS", "KEY_DOWN", "KEY_UP"):
        key = d.get("key")
        playwright_key(key)
        out["key"] = key
    elif kind == "HOTKEY":
        keys = d.get("keys")
        if not isinstance(keys, list) or not keys or len(keys) > 5:
            raise ActionError(f"HOTKEY needs 'keys', a list of 1-5 key names like ['ctrl', 's'], got {keys!r}")
        for k in keys:
            playwright_key(k)
        out["keys"] = list(keys)
    return out


_FENCE = re.compile(r"```(?:json|python|py)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<action>(.*?)</action>", re.DOTALL | re.IGNORECASE)


def _strip_wrappers(text: str) -> str:
    for pattern in (_TAG, _FENCE):
        found = pattern.findall(text)
        if found:
            return found[-1].strip()
    return text.strip()


def parse_computer13(action: str | dict, viewport: tuple[int, int]) -> dict[str, Any]:
    """Text (a JSON object, optionally in ```json fences or <action> tags, or WAIT/DONE/FAIL) or a dict."""
    if isinstance(action, dict):
        return normalize(action, viewport)
    text = _strip_wrappers(action)
    if text.upper() in SPECIAL:
        return {"action_type": text.upper()}
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ActionError(
            'expected a computer_13 JSON action like {"action_type": "CLICK", "x": 100, "y": 200} '
            f"or WAIT/DONE/FAIL, got {text[:60]!r}"
        )
    try:
        d = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ActionError(f"the action is not valid JSON ({exc.msg} at char {exc.pos}): {text[start:start + 60]!r}") from None
    return normalize(d, viewport)


# -- pyautogui ---------------------------------------------------------------------------------
# name -> (positional parameter names, {keyword: default})
_PYAUTOGUI: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "click": (("x", "y", "clicks", "interval", "button"), {"clicks": 1, "button": "left"}),
    "doubleClick": (("x", "y", "interval", "button"), {"button": "left"}),
    "tripleClick": (("x", "y", "interval", "button"), {"button": "left"}),
    "rightClick": (("x", "y"), {}),
    "middleClick": (("x", "y"), {}),
    "moveTo": (("x", "y", "duration"), {}),
    "dragTo": (("x", "y", "duration", "button"), {"button": "left"}),
    "mouseDown": (("x", "y", "button"), {"button": "left"}),
    "mouseUp": (("x", "y", "button"), {"button": "left"}),
    "scroll": (("clicks", "x", "y"), {}),
    "vscroll": (("clicks", "x", "y"), {}),
    "hscroll": (("clicks", "x", "y"), {}),
    "write": (("message", "interval"), {}),
    "typewrite": (("message", "interval"), {}),
    "press": (("keys", "presses", "interval"), {"presses": 1}),
    "keyDown": (("key",), {}),
    "keyUp": (("key",), {}),
    "hotkey": ((), {}),
}
_IGNORED_IMPORTS = {"pyautogui", "time"}


def _literal(node: ast.AST, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ActionError(f"{where}: only literal arguments (numbers, strings, lists) are allowed, got {ast.unparse(node)[:60]!r}") from None


def _call_name(call: ast.Call) -> tuple[str, str]:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f.value.id, f.attr
    shown = ast.unparse(f)[:40]
    raise ActionError(f"only pyautogui.<function>(...) and time.sleep(...) calls are allowed, got {shown!r}")


def _pyautogui_call(call: ast.Call, viewport: tuple[int, int]) -> list[dict[str, Any]]:
    mod, name = _call_name(call)
    if mod == "time" and name == "sleep":
        return [{"action_type": "WAIT"}]
    if mod != "pyautogui" or name not in _PYAUTOGUI:
        raise ActionError(
            f"{mod}.{name} is not allowed; use one of pyautogui.{', pyautogui.'.join(sorted(_PYAUTOGUI))} or time.sleep"
        )
    where = f"pyautogui.{name}"
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise ActionError(f"{where}: *args / **kwargs are not allowed")
    args = [_literal(a, where) for a in call.args]
    if name == "hotkey":
        if call.keywords and any(k.arg != "interval" for k in call.keywords):
            raise ActionError(f"{where} takes key names only, e.g. pyautogui.hotkey('ctrl', 's')")
        keys = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        return [normalize({"action_type": "HOTKEY", "keys": keys}, viewport)]
    params, defaults = _PYAUTOGUI[name]
    if len(args) > len(params):
        raise ActionError(f"{where} takes at most {len(params)} positional arguments ({', '.join(params)}), got {len(args)}")
    kw = dict(defaults)
    kw.update(zip(params, args, strict=False))
    for k in call.keywords:
        if k.arg not in params and k.arg not in ("duration", "interval", "tween", "logScreenshot", "_pause"):
            raise ActionError(f"{where} has no argument {k.arg!r}; expected {', '.join(params)}")
        kw[k.arg] = _literal(k.value, where)
    x, y = kw.get("x"), kw.get("y")
    if isinstance(x, (tuple, list)) and len(x) == 2 and y is None:  # click((x, y))
        x, y = x
    pos = {"x": x, "y": y} if x is not None or y is not None else {}
    if name in ("click", "doubleClick", "tripleClick", "rightClick", "middleClick"):
        clicks = {"doubleClick": 2, "tripleClick": 3}.get(name, kw.get("clicks", 1))
        button = {"rightClick": "right", "middleClick": "middle"}.get(name, kw.get("button", "left"))
        return [normalize({"action_type": "CLICK", **pos, "button": button, "num_clicks": clicks}, viewport)]
    if name == "moveTo":
        return [normalize({"action_type": "MOVE_TO", **pos}, viewport)]
    if name == "dragTo":
        if kw.get("button", "left") != "left":
            raise ActionError(f"{where} supports button='left' only, got {kw.get('button')!r}")
        return [normalize({"action_type": "DRAG_TO", **pos}, viewport)]
    if name in ("mouseDown", "mouseUp"):
        out = [normalize({"action_type": "MOVE_TO", **pos}, viewport)] if pos else []
        return out + [normalize({"action_type": "MOUSE_DOWN" if name == "mouseDown" else "MOUSE_UP", "button": kw.get("button", "left")}, viewport)]
    if name in ("scroll", "vscroll", "hscroll"):
        clicks = kw.get("clicks")
        if isinstance(clicks, bool) or not isinstance(clicks, (int, float)):
            raise ActionError(f"{where} needs a number of clicks, got {clicks!r}")
        out = [normalize({"action_type": "MOVE_TO", **pos}, viewport)] if pos else []
        key = "dx" if name == "hscroll" else "dy"
        return out + [normalize({"action_type": "SCROLL", key: clicks}, viewport)]
    if name in ("write", "typewrite"):
        msg = kw.get("message")
        if isinstance(msg, list):  # typewrite(['a', 'enter']) presses keys one by one
            return [normalize({"action_type": "PRESS", "key": k}, viewport) for k in msg]
        return [normalize({"action_type": "TYPING", "text": msg}, viewport)]
    if name == "press":
        keys, presses = kw.get("keys"), kw.get("presses", 1)
        keys = keys if isinstance(keys, list) else [keys]
        if not isinstance(presses, int) or not 1 <= presses <= 20:
            raise ActionError(f"{where}: presses must be an int in [1, 20], got {presses!r}")
        return [normalize({"action_type": "PRESS", "key": k}, viewport) for k in keys] * presses
    # keyDown / keyUp
    return [normalize({"action_type": "KEY_DOWN" if name == "keyDown" else "KEY_UP", "key": kw.get("key")}, viewport)]


def parse_pyautogui(action: str | dict, viewport: tuple[int, int]) -> dict[str, Any]:
    """`{"code": ..., "actions": [...]}` from pyautogui code (or WAIT/DONE/FAIL); never executes it."""
    if isinstance(action, dict):
        return {"code": None, "actions": [normalize(action, viewport)]}
    code = _strip_wrappers(action)
    if code.upper() in SPECIAL:
        return {"code": code.upper(), "actions": [{"action_type": code.upper()}]}
    if len(code) > 20000:
        raise ActionError(f"the code is {len(code)} characters long; at most 20000")
    try:
        tree = ast.parse(code, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", str(exc))
        raise ActionError(
            f"expected pyautogui code like pyautogui.click(100, 200) or WAIT/DONE/FAIL; it does not parse ({msg})"
        ) from None
    actions: list[dict[str, Any]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import) and all(a.name in _IGNORED_IMPORTS and a.asname is None for a in stmt.names):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Name) and stmt.value.id.upper() in SPECIAL:
            actions.append({"action_type": stmt.value.id.upper()})
            continue
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            raise ActionError(
                f"only pyautogui calls are allowed, one per line (no imports, assignments or control flow); got {ast.unparse(stmt)[:60]!r}"
            )
        actions.extend(_pyautogui_call(stmt.value, viewport))
        if len(actions) > MAX_CALLS:
            raise ActionError(f"at most {MAX_CALLS} primitive actions per step")
    if not actions:
        raise ActionError("expected at least one pyautogui call, e.g. pyautogui.click(100, 200)")
    return {"code": code, "actions": actions}


def to_pyautogui(a: dict[str, Any]) -> str:
    """pyautogui code for one canonical computer_13 action (how the oracle speaks pyautogui)."""
    t = a["action_type"]
    xy = f"{a['x']}, {a['y']}" if "x" in a else ""
    if t == "CLICK":
        if a.get("button", "left") == "right":
            return f"pyautogui.rightClick({xy})"
        fn = {1: "click", 2: "doubleClick", 3: "tripleClick"}[a.get("num_clicks", 1)]
        return f"pyautogui.{fn}({xy})"
    if t == "DOUBLE_CLICK":
        return f"pyautogui.doubleClick({xy})"
    if t == "RIGHT_CLICK":
        return f"pyautogui.rightClick({xy})"
    if t == "MOVE_TO":
        return f"pyautogui.moveTo({xy})"
    if t == "DRAG_TO":
        return f"pyautogui.dragTo({xy}, duration=0.5, button='left')"
    if t == "MOUSE_DOWN":
        return f"pyautogui.mouseDown(button={a.get('button', 'left')!r})"
    if t == "MOUSE_UP":
        return f"pyautogui.mouseUp(button={a.get('button', 'left')!r})"
    if t == "SCROLL":
        lines = []
        if a.get("dy"):
            lines.append(f"pyautogui.scroll({a['dy']})")
        if a.get("dx"):
            lines.append(f"pyautogui.hscroll({a['dx']})")
        return "\n".join(lines) or "WAIT"
    if t == "TYPING":
        return f"pyautogui.write({a['text']!r})"
    if t == "PRESS":
        return f"pyautogui.press({a['key']!r})"
    if t == "KEY_DOWN":
        return f"pyautogui.keyDown({a['key']!r})"
    if t == "KEY_UP":
        return f"pyautogui.keyUp({a['key']!r})"
    if t == "HOTKEY":
        return f"pyautogui.hotkey({', '.join(repr(k) for k in a['keys'])})"
    return t  # WAIT / DONE / FAIL


def apply_action(page, a: dict[str, Any], mouse: list[int]) -> None:
    """Perform one canonical action on a Playwright page; `mouse` ([x, y]) tracks the pointer."""
    t = a["action_type"]
    m, kb = page.mouse, page.keyboard
    if "x" in a:
        if t not in ("DRAG_TO", "CLICK", "DOUBLE_CLICK", "RIGHT_CLICK"):  # clicks move the pointer themselves
            m.move(a["x"], a["y"])
        if t != "DRAG_TO":
            mouse[:] = [a["x"], a["y"]]
    if t == "CLICK":
        m.click(mouse[0], mouse[1], button=a.get("button", "left"), click_count=a.get("num_clicks", 1))
    elif t == "DOUBLE_CLICK":
        m.dblclick(mouse[0], mouse[1])
    elif t == "RIGHT_CLICK":
        m.click(mouse[0], mouse[1], button="right")
    elif t == "MOUSE_DOWN":
        m.down(button=a.get("button", "left"))
    elif t == "MOUSE_UP":
        m.up(button=a.get("button", "left"))
    elif t == "DRAG_TO":
        m.down()
        m.move(a["x"], a["y"], steps=8)
        m.up()
        mouse[:] = [a["x"], a["y"]]
    elif t == "SCROLL":
        m.wheel(a.get("dx", 0) * SCROLL_PIXELS, -a.get("dy", 0) * SCROLL_PIXELS)
    elif t == "TYPING":
        # Playwright's type() drops "\t" and its "\n" is not always a real Enter keydown:
        # press those keys explicitly so apps see the same events as from a keyboard
        for chunk in re.split(r"([\t\n])", a["text"]):
            if chunk in ("\t", "\n"):
                kb.press("Tab" if chunk == "\t" else "Enter")
            elif chunk:
                kb.type(chunk)
    elif t == "PRESS":
        kb.press(playwright_key(a["key"]))
    elif t == "KEY_DOWN":
        kb.down(playwright_key(a["key"]))
    elif t == "KEY_UP":
        kb.up(playwright_key(a["key"]))
    elif t == "HOTKEY":
        keys = [playwright_key(k) for k in a["keys"]]
        for k in keys:
            kb.down(k)
        for k in reversed(keys):
            kb.up(k)
