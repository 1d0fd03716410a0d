"""Mobile-v0: a phone of web apps (contacts, messages, clock, notes, settings) in real Chromium.

Chromium runs with a phone profile (touch, mobile viewport); actions are AndroidWorld's JSON
actions, delivered as real touch events; tasks are parameterised templates checked on app state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from stepgym.envs.browser.env import BrowserEnv
from stepgym.envs.core import ActionError, Outcome
from stepgym.envs.mobile import actions as A
from stepgym.envs.mobile.templates import TEMPLATES, Template, load_all
from stepgym.envs.mobile.world import copy_world, make_world
from stepgym.envs.tasks import Task, TaskSuite

PAGE = "/phone.html"
UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0 Mobile Safari/537.36")

ACTION_DOC = """\
You operate an Android-style phone (screen {w}x{h} pixels, origin top-left) with the apps
Contacts, Messages, Clock, Notes and Settings. Each step you see a screenshot and the visible UI
elements as {elements}.
Reply with one JSON action (AndroidWorld format):
{{"action_type": "click", "index": 3}}  or  {{"action_type": "click", "x": 180, "y": 300}}
{{"action_type": "double_tap", "index": 3}}   {{"action_type": "long_press", "index": 3}}
{{"action_type": "scroll", "direction": "down"}}  (scroll shows content further down; optional index)
{{"action_type": "swipe", "direction": "up"}}  (the finger moves up: the opposite of scroll)
{{"action_type": "input_text", "text": "hello", "index": 5, "clear_text": false}}  (types, then Enter)
{{"action_type": "keyboard_enter"}}  {{"action_type": "navigate_back"}}  {{"action_type": "navigate_home"}}
{{"action_type": "open_app", "app_name": "Contacts"}}  {{"action_type": "wait"}}
{{"action_type": "answer", "text": "..."}}  (for questions; then finish)
{{"action_type": "status", "goal_status": "complete"}}  or  "infeasible" when the task cannot be done."""


ELEMENT_DOCS = {"full": '"[index] class "text" desc="..." bounds=(left,top,right,bottom) flags"',
                "compact": '"[index] text (flags)"'}


def action_doc(width: int, height: int, elements: str = "full") -> str:
    """Mobile-v0's action grammar for a `width` x `height` screen whose elements are listed as
    `elements` ("full" or "compact")."""
    if elements not in ELEMENT_DOCS:
        raise ValueError(f"elements must be one of {tuple(ELEMENT_DOCS)}, got {elements!r}")
    return ACTION_DOC.format(w=width, h=height, elements=ELEMENT_DOCS[elements])


def template_suite(names: list[str] | None = None) -> TaskSuite:
    """One task per template (task_id = template name); parameters are drawn at reset from the seed."""
    registry = load_all()
    chosen = sorted(registry) if names is None else list(names)
    tasks = []
    for name in chosen:
        if name not in registry:
            raise KeyError(f"unknown mobile template {name!r}; known: {', '.join(sorted(registry))}")
        cls = registry[name]
        tasks.append(Task(task_id=name, instruction=f"[{cls.app}] {name}", split="all",
                          data={"template": name, "app": cls.app, "complexity": cls.complexity,
                                "infeasible": cls.infeasible, "retrieval": cls.retrieval}))
    return TaskSuite(tasks, name="mobile")


ELEMENT_FORMATS = tuple(ELEMENT_DOCS)


def format_elements(elements: list[dict[str, Any]], style: str = "full") -> str:
    """UI element lines, one per visible element.

    "full": AndroidWorld's `[index] class "text" desc="..." bounds=(l,t,r,b) flags`.
    "compact": `[index] text` (the description when the text has no letter or digit) plus the
    flags a choice depends on (editable, checked/unchecked): no class, no pixel bounds, for small
    models whose prompts must stay short; click by index still works, as with the full list.
    """
    if style not in ELEMENT_FORMATS:
        raise ValueError(f"element format must be one of {ELEMENT_FORMATS}, got {style!r}")
    lines = []
    for e in elements:
        flags = [f for f in ("clickable", "long_clickable", "editable", "focused") if e.get(f)]
        if e.get("checked") is not None:
            flags.append("checked" if e["checked"] else "unchecked")
        if style == "compact":
            text = e["text"] or ""
            # a symbol-only text ("◀") says less than its description ("Back")
            label = (text if any(c.isalnum() for c in text) else e["content_description"] or text)[:40]
            kept = [f for f in flags if f in ("editable", "checked", "unchecked")]
            lines.append(f'[{e["index"]}] {label}{" (" + ", ".join(kept) + ")" if kept else ""}')
            continue
        desc = f' desc="{e["content_description"]}"' if e["content_description"] else ""
        b = e["bounds"]
        lines.append(f'[{e["index"]}] {e["class_name"].rsplit(".", 1)[-1]} "{e["text"][:80]}"{desc} '
                     f'bounds=({b[0]},{b[1]},{b[2]},{b[3]}){" " + " ".join(flags) if flags else ""}')
    return "\n".join(lines)


PARAM_SPLITS = ("all", "train", "test")


def param_split_of(template: str, params: dict[str, Any]) -> str:
    """"test" for a quarter of a template's parameter sets (by a hash of both), else "train"."""
    key = f"{template}:{json.dumps(params, sort_keys=True, default=str)}"
    return "test" if hashlib.sha1(key.encode()).digest()[0] % 4 == 0 else "train"


class MobileEnv(BrowserEnv):
    """A phone of web apps in Chromium's mobile emulation, driven by AndroidWorld JSON actions."""

    visual = True
    asset_family = "mobile"
    page = PAGE
    inlined_files = ("phone.css", "phone.js")
    snapshot_function = "() => phone.snapshot()"  # app state, screen and element list
    action_examples = (
        '{"action_type": "open_app", "app_name": "Contacts"}', '{"action_type": "click", "index": 1}',
        '{"action_type": "click", "x": 180, "y": 320}', '{"action_type": "long_press", "index": 2}',
        '{"action_type": "scroll", "direction": "down"}', '{"action_type": "swipe", "direction": "up"}',
        '{"action_type": "input_text", "text": "hi"}', '{"action_type": "navigate_back"}',
        '{"action_type": "navigate_home"}', '{"action_type": "wait"}',
        '{"action_type": "status", "goal_status": "complete"}',
    )

    def __init__(
        self,
        templates: list[str] | None = None,
        split: str = "all",
        max_steps: int | None = None,
        viewport: tuple[int, int] = (360, 640),
        device_scale_factor: float = 1.0,
        image: bool = True,
        render_mode: str | None = None,
        param_split: str = "all",
        elements: str = "full",
    ) -> None:
        """`templates`: names to play (default: all registered); `max_steps`: None gives each
        task 10 x its complexity steps (AndroidWorld's budget), an int overrides it;
        `viewport` is the screen in CSS pixels (actions and screenshots use it);
        `image=False` skips screenshots. `param_split` "train" or "test" draws only template
        parameters of that half (a hash of template and parameters puts a quarter in "test"), so a
        held-out evaluation meets instances no training episode had; "all" (default) draws any.
        `elements`: how the observation lists UI elements, "full" (AndroidWorld's lines, default)
        or "compact" (`[index] text` and the editable/checked flags only; see `format_elements`)."""
        if param_split not in PARAM_SPLITS:
            raise ValueError(f"param_split must be one of {PARAM_SPLITS}, got {param_split!r}")
        self.viewport = (int(viewport[0]), int(viewport[1]))
        self.action_doc = action_doc(*self.viewport, elements)  # rejects an unknown element format
        self.param_split, self.element_format = param_split, elements
        self.visual = bool(image)
        self.device_scale_factor = float(device_scale_factor)
        self._fixed_steps = max_steps
        super().__init__(template_suite(templates), split=split, max_steps=max_steps or 10, render_mode=render_mode)
        self._init_browser_state()
        self._template: Template | None = None
        self._params: dict[str, Any] = {}
        self._answer: str | None = None

    # -- episode setup -------------------------------------------------------------------
    def _load_task(self, task: Task) -> None:
        name = task.data.get("template", task.task_id)
        if name not in TEMPLATES:
            raise KeyError(f"task {task.task_id!r} names no known mobile template ({name!r})")
        template = TEMPLATES[name]()
        world = make_world(self.np_random)
        params = template.params(self.np_random, world)
        for _ in range(64):  # a template whose parameters never fall in the split (one fixed set) plays them anyway
            if self.param_split in ("all", param_split_of(name, params)):
                break
            params = template.params(self.np_random, world)
        world = copy_world(world)
        template.setup(world, params)
        self._template, self._params = template, params
        self.task = Task(task_id=task.task_id, instruction=template.goal(params), split=task.split,
                         data={**task.data, "params": params})
        self.max_steps = self._fixed_steps or max(1, round(10 * template.complexity))
        self._open_episode("(s) => phone.setup(s)", world)
        self._answer = None

    # -- actions ---------------------------------------------------------------------------
    def parse_action(self, action: str | dict) -> dict[str, Any]:
        return A.parse(action, self.viewport)

    def _point(self, a: dict[str, Any], default: tuple[int, int] | None = None) -> tuple[float, float]:
        if "index" in a:
            elements = self._elements_seen()
            if a["index"] >= len(elements):
                raise ActionError(f"index {a['index']} is not on screen; the element list has indices 0..{len(elements) - 1}")
            left, top, right, bottom = elements[a["index"]]["bounds"]
            return (left + right) / 2, (top + bottom) / 2
        if "x" in a:
            return a["x"], a["y"]
        if default is None:
            raise ActionError(f"{a['action_type']} needs an index or x, y")
        return default

    def _elements_seen(self) -> list[dict[str, Any]]:
        """The element list of the last observation: what an action's `index` refers to."""
        return (self._seen or self._snapshot())["elements"]

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        self._session.check()
        try:
            with self._refused_as(f"the phone refused {parsed['action_type']}"):
                final = self._perform(parsed)
        finally:
            self._snap = None
            self._image = None
        if final is not None:
            return final
        if self.steps + 1 >= self.max_steps:  # the step limit ends the episode: score it now
            score = self._score(False)
            return Outcome(reward=score, success=score >= 1.0)
        return Outcome()

    def _perform(self, parsed: dict[str, Any]) -> Outcome | None:
        """Carry out one parsed action on the phone; the Outcome of a `status` action, else None."""
        s = self._session
        kind = parsed["action_type"]
        w, h = self.viewport
        if kind == "status":
            infeasible = parsed["goal_status"] == "infeasible"
            score = self._score(infeasible)
            return Outcome(reward=score, terminated=True, success=score >= 1.0)
        if kind == "answer":
            self._answer = parsed["text"]
        elif kind in A.POINTED:
            x, y = self._point(parsed)
            if kind == "long_press":
                s.long_press(x, y)
            else:
                s.tap(x, y)
                if kind == "double_tap":
                    s.tap(x, y)
        elif kind in ("scroll", "swipe"):
            cx, cy = self._point(parsed, default=(w // 2, h // 2))
            d = parsed["direction"]
            if kind == "scroll":  # scrolling down means the finger moves up
                d = {"up": "down", "down": "up", "left": "right", "right": "left"}[d]
            dx = {"left": -1, "right": 1}.get(d, 0) * w * 0.3
            dy = {"up": -1, "down": 1}.get(d, 0) * h * 0.25
            clamp = lambda v, hi: min(max(v, 1), hi - 2)  # noqa: E731
            s.swipe((clamp(cx - dx, w), clamp(cy - dy, h)), (clamp(cx + dx, w), clamp(cy + dy, h)))
        elif kind == "input_text":
            self._input_text(parsed)
        elif kind == "keyboard_enter":
            s.page.keyboard.press("Enter")
        elif kind == "navigate_home":
            s.evaluate("() => phone.home()")
        elif kind == "navigate_back":
            s.evaluate("() => phone.back()")
        elif kind == "open_app":
            if not s.evaluate("(n) => phone.openApp(n)", parsed["app_name"]):
                apps = ", ".join(a["name"] for a in s.evaluate("() => phone.apps"))
                raise ActionError(f"no app named {parsed['app_name']!r:.40}; installed apps: {apps}")

    def _input_text(self, a: dict[str, Any]) -> None:
        s = self._session
        if "index" in a:
            seen = self._elements_seen()
            element = seen[a["index"]] if a["index"] < len(seen) else None
            if element is not None and not element["editable"]:
                raise ActionError(f"element {a['index']} ({element['class_name'].rsplit('.', 1)[-1]} "
                                  f"{element['text'][:30]!r}) is not a text field")
            s.tap(*self._point(a))
        if not s.evaluate("() => !!document.activeElement && document.activeElement.tagName === 'INPUT'"):
            raise ActionError("no text field is focused; give input_text the index of an editable element")
        if a.get("clear_text"):
            s.evaluate("() => { const el = document.activeElement; el.value = ''; "
                       "el.dispatchEvent(new Event('input', {bubbles: true})); }")
        if a["text"]:
            s.page.keyboard.insert_text(a["text"])
        s.page.keyboard.press("Enter")

    def _score(self, said_infeasible: bool) -> float:
        if self._template.infeasible:
            return 1.0 if said_infeasible else 0.0
        if said_infeasible:
            return 0.0
        state = self._snapshot()["state"]
        return float(min(1.0, max(0.0, self._template.check(state, self._params, self._answer))))

    def context_options(self) -> dict[str, Any]:
        return {"is_mobile": True, "has_touch": True, "device_scale_factor": self.device_scale_factor,
                "user_agent": UA}

    # -- observation -----------------------------------------------------------------------
    def _observe_text(self) -> str:
        snap = self._snapshot()
        scr = snap["screen"]
        where = "home screen" if scr["app"] == "home" else f"{scr['app']} / {scr['view']}"
        if scr["menu"]:
            where += " (menu open)"
        if scr["dialog"]:
            where += " (dialog open)"
        lines = [f"Task: {self.task.instruction}", f"Screen: {where}"]
        if self._answer is not None:
            lines.append(f"Your answer so far: {self._answer}")
        lines += ["UI elements:", format_elements(snap["elements"], self.element_format)]
        return "\n".join(lines)

    def _step_info(self) -> dict[str, Any]:
        snap = self._snapshot()
        taps = [A.to_text({"action_type": "click", "index": e["index"]}) for e in snap["elements"] if e["clickable"]]
        return {"blocked_requests": self._session.drain_blocked(), "screen": snap["screen"],
                "available_actions": taps + ['{"action_type": "navigate_back"}', '{"action_type": "scroll", "direction": "down"}',
                                             '{"action_type": "status", "goal_status": "complete"}']}

    def state_key(self) -> str:
        """`<app>/<view>:<hash>` of the apps' data plus the screen (view, open menu/dialog, typed fields)."""
        snap = self._snapshot()
        scr = snap["screen"]
        blob = json.dumps({"state": snap["state"], "screen": scr, "answer": self._answer}, sort_keys=True, separators=(",", ":"))
        return f"{scr['app']}/{scr['view']}:{hashlib.sha1(blob.encode()).hexdigest()[:16]}"

    def app_state(self) -> dict[str, Any]:
        """The apps' data as JSON (what template checks read)."""
        return self._snapshot()["state"]

    # -- oracle ----------------------------------------------------------------------------
    def oracle_action(self) -> str:
        """The next action of the template's scripted solution, its target resolved to an index now.

        A target below or above the visible part of a list gives a scroll toward it first; a
        target that is not on screen at all gives wait. The oracle never raises.
        """
        plan = self._template.oracle(self._params) if self._template else []
        i = self._oracle_i
        step = dict(plan[i]) if i < len(plan) else {"action_type": "status", "goal_status": "complete"}
        key = step.pop("key", None)
        if key is not None:
            found = self._session.evaluate("(k) => phone.find(k)", key)
            if found is None:
                step = {"action_type": "wait"}
            elif "scroll" in found:
                step = {"action_type": "scroll", "direction": found["scroll"]}
            else:
                step = {**step, "index": found["index"]}
                step = {"action_type": step.pop("action_type"), **step}
        text = A.to_text(step)
        if key is None or step.get("index") is not None:
            self._oracle_pending = (self.steps, text)
        else:
            self._oracle_pending = None
        return text

    # -- lifecycle -------------------------------------------------------------------------
