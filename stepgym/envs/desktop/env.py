"""Desktop-v0: a desktop of web apps (files, editor, spreadsheet, mail, settings) in real Chromium.

OSWorld's action spaces (`computer_13` dicts or `pyautogui` code), OSWorld-shaped task JSON
with evaluators over the apps' state, a screenshot plus an accessibility text per step.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from stepgym.envs.browser.env import BrowserEnv
from stepgym.envs.core import Outcome
from stepgym.envs.desktop import actions as A
from stepgym.envs.desktop.evaluator import evaluate, validate
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.paths import asset_path

DOC_COMMON = """\
You control a desktop (screen {w}x{h} pixels; coordinates are screenshot pixels, origin top-left)
with a taskbar and apps: Files, Text Editor, Spreadsheet, Mail, Settings. Double-click desktop
icons to open apps. Each step you see a screenshot and a list of visible interactive elements
"[id] role "name" at (x,y)". When the task is done answer DONE; if it cannot be done answer FAIL.
"""

DOC_COMPUTER13 = DOC_COMMON + """\
Action space: computer_13. Reply with one JSON object (optionally in ```json fences), one of:
{{"action_type": "CLICK", "x": 100, "y": 200, "button": "left", "num_clicks": 1}}  (x, y optional: click in place)
{{"action_type": "DOUBLE_CLICK", "x": 100, "y": 200}}   {{"action_type": "RIGHT_CLICK", "x": 100, "y": 200}}
{{"action_type": "MOVE_TO", "x": 100, "y": 200}}   {{"action_type": "DRAG_TO", "x": 300, "y": 400}} (left-drag from the pointer)
{{"action_type": "MOUSE_DOWN", "button": "left"}}   {{"action_type": "MOUSE_UP", "button": "left"}}
{{"action_type": "SCROLL", "dx": 0, "dy": -3}}  (wheel clicks at the pointer; dy > 0 scrolls up)
{{"action_type": "TYPING", "text": "hello"}}   {{"action_type": "PRESS", "key": "enter"}}
{{"action_type": "KEY_DOWN", "key": "shift"}}   {{"action_type": "KEY_UP", "key": "shift"}}
{{"action_type": "HOTKEY", "keys": ["ctrl", "s"]}}
or the bare words WAIT, DONE, FAIL."""

DOC_PYAUTOGUI = DOC_COMMON + """\
Action space: pyautogui. Reply with Python code made only of pyautogui calls with literal
arguments (it is parsed, never executed), one call per line, e.g.
pyautogui.click(100, 200)        pyautogui.doubleClick(100, 200)     pyautogui.rightClick(100, 200)
pyautogui.moveTo(100, 200)       pyautogui.dragTo(300, 400, duration=0.5, button='left')
pyautogui.mouseDown()            pyautogui.mouseUp()                 pyautogui.scroll(-3)
pyautogui.write('hello')         pyautogui.press('enter')            pyautogui.hotkey('ctrl', 's')
pyautogui.keyDown('shift')       pyautogui.keyUp('shift')            time.sleep(1)
or the bare words WAIT, DONE, FAIL."""

SPACES = ("computer_13", "pyautogui")
PAGE = "/desktop.html"


def load_tasks(source: str | Path | TaskSuite = "default") -> TaskSuite:
    """Desktop tasks from OSWorld-style JSON: a folder of one-task `.json` files, a `.jsonl`, or a suite."""
    if isinstance(source, TaskSuite):
        return source
    path = asset_path("desktop", "tasks") if source == "default" else Path(source)
    if path.is_dir():
        records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.json"))]
    elif path.suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
        records = data if isinstance(data, list) else [data]
    else:
        raise FileNotFoundError(f"desktop tasks {str(path)!r}: expected a folder of .json files or a .jsonl file")
    tasks = []
    for r in records:
        if "id" not in r and "task_id" not in r:
            raise ValueError(f"desktop task record lacks 'id': {r!r:.120}")
        r = {"task_id": r.get("task_id", r.get("id")), **r}
        validate(r["task_id"], r.get("evaluator"))
        tasks.append(Task.from_record(r))
    if not tasks:
        raise ValueError(f"no desktop tasks found in {str(path)!r}")
    return TaskSuite(tasks, name="desktop")


class DesktopEnv(BrowserEnv):
    """A desktop of web apps in real Chromium, driven by OSWorld's computer_13 or pyautogui actions."""

    visual = True
    asset_family = "desktop"
    page = PAGE
    inlined_files = ("desktop.css", "formula.js", "desktop.js")
    snapshot_function = "() => ({state: desktop.state(), a11y: window.__stepgymA11y()})"  # state + a11y text

    def __init__(
        self,
        tasks: str | Path | TaskSuite = "default",
        split: str = "all",
        action_space: str = "computer_13",
        max_steps: int = 15,
        viewport: tuple[int, int] = (1280, 720),
        a11y: bool = True,
        image: bool = True,
        render_mode: str | None = None,
    ) -> None:
        """`action_space`: "computer_13" (JSON dicts) or "pyautogui" (code strings);
        `a11y=False` leaves the element list out of the observation text; `image=False` skips
        screenshots (text-only agents, fast oracle checks)."""
        self.visual = bool(image)
        if action_space not in SPACES:
            raise ValueError(f"action_space must be one of {SPACES}, got {action_space!r}")
        self.action_space_name = action_space
        self.viewport = (int(viewport[0]), int(viewport[1]))
        w, h = self.viewport
        doc = DOC_COMPUTER13 if action_space == "computer_13" else DOC_PYAUTOGUI
        self.action_doc = doc.format(w=w, h=h)
        if action_space == "computer_13":
            self.action_examples = (
                '{"action_type": "CLICK", "x": 54, "y": 50, "num_clicks": 2}',
                '{"action_type": "CLICK", "x": 640, "y": 360}', '{"action_type": "TYPING", "text": "hi"}',
                '{"action_type": "PRESS", "key": "enter"}', '{"action_type": "HOTKEY", "keys": ["ctrl", "s"]}',
                '{"action_type": "SCROLL", "dy": -2}', "WAIT", "DONE", "FAIL",
            )
        else:
            self.action_examples = (
                "pyautogui.doubleClick(54, 50)", "pyautogui.click(640, 360)", "pyautogui.write('hi')",
                "pyautogui.press('enter')", "pyautogui.hotkey('ctrl', 's')", "pyautogui.scroll(-2)",
                "WAIT", "DONE", "FAIL",
            )
        self.show_a11y = bool(a11y)
        super().__init__(load_tasks(tasks), split=split, max_steps=max_steps, render_mode=render_mode)
        self._init_browser_state()
        self._mouse = [0, 0]
        self._last_action: str | None = None

    # -- episode setup -------------------------------------------------------------------
    def _load_task(self, task: Task) -> None:
        self._open_episode("(steps) => desktop.setup(steps)", task.data.get("config", []))
        self._mouse = [0, 0]
        self._last_action = None

    # -- actions ---------------------------------------------------------------------------
    def parse_action(self, action: str | dict) -> dict[str, Any]:
        if self.action_space_name == "computer_13":
            return A.parse_computer13(action, self.viewport)
        return A.parse_pyautogui(action, self.viewport)

    def _primitives(self, parsed: dict[str, Any]) -> list[dict[str, Any]]:
        return parsed["actions"] if "actions" in parsed else [parsed]

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        session = self._session
        self._snap = None
        self._image = None
        final = None
        for a in self._primitives(parsed):
            if a["action_type"] in ("DONE", "FAIL"):
                final = a["action_type"]
                break
            if a["action_type"] == "WAIT":
                continue
            session.check()
            with self._refused_as(f"the browser refused {a['action_type']}"):
                A.apply_action(session.page, a, self._mouse)
        if final is not None:
            self._last_action = final
            score = self._score()
            return Outcome(reward=score, terminated=True, success=score >= 1.0)
        self._last_action = parsed["actions"][-1]["action_type"] if "actions" in parsed else parsed["action_type"]
        if self.steps + 1 >= self.max_steps:  # the step limit ends the episode: score it now
            score = self._score()
            return Outcome(reward=score, success=score >= 1.0)
        return Outcome()

    def _score(self) -> float:
        evaluator = self.task.data["evaluator"]
        if evaluator.get("postconfig"):
            self._session.evaluate("(steps) => desktop.config(steps)", evaluator["postconfig"])
            self._snap = None
        return evaluate(evaluator, self._snapshot()["state"], self._last_action)

    def _crash_info(self) -> dict[str, Any]:
        return {"available_actions": []}

    # -- observation -----------------------------------------------------------------------
    def _observe_text(self) -> str:
        snap = self._snapshot()
        focus = snap["state"]["focus"]
        lines = [f"Task: {self.task.instruction}", f"Focused window: {focus or 'none (desktop)'}"]
        if self.show_a11y:
            lines += ["Visible interactive elements:", snap["a11y"]["text"]]
        return "\n".join(lines)

    def _step_info(self) -> dict[str, Any]:
        snap = self._snapshot()
        clicks = []
        for item in snap["a11y"]["items"]:
            d = {"action_type": "CLICK", "x": item["x"], "y": item["y"]}
            clicks.append(json.dumps(d) if self.action_space_name == "computer_13" else A.to_pyautogui(d))
        return {"blocked_requests": self._session.drain_blocked(), "available_actions": clicks + ["DONE"]}

    def state_key(self) -> str:
        """`<focused app>:<hash>` of the apps' state: files, documents, windows, settings, mail, focus."""
        state = self._snapshot()["state"]
        digest = hashlib.sha1(json.dumps(state, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
        return f"{state['focus'] or 'desktop'}:{digest}"

    def app_state(self) -> dict[str, Any]:
        """The apps' state as JSON (what evaluators read)."""
        return self._snapshot()["state"]

    # -- oracle ----------------------------------------------------------------------------
    def oracle_action(self) -> str:
        """The next action of the task's scripted solution, its target resolved to pixels now.

        The plan advances only when its proposed action is the one stepped, so invalid or
        foreign actions in between do not skip steps. A target that is not on screen (another
        action changed the desktop) gives WAIT: the oracle never raises.
        """
        plan = self.task.data.get("oracle", [])
        i = self._oracle_i
        step = dict(plan[i]) if i < len(plan) else {"action_type": "DONE"}
        target = step.pop("target", None)
        if target is not None:
            xy = self._session.evaluate("(s) => desktop.locate(s)", target)
            if xy is None:
                return "WAIT"
            step["x"] = xy[0] + step.pop("dx", 0)
            step["y"] = xy[1] + step.pop("dy", 0)
        a = A.normalize(step, self.viewport)
        if self.action_space_name == "pyautogui":
            text = A.to_pyautogui(a)
        else:
            text = a["action_type"] if a["action_type"] in A.SPECIAL else json.dumps(a)
        self._oracle_pending = (self.steps, text)
        return text

    # -- lifecycle -------------------------------------------------------------------------
