"""Task templates for Mobile-v0, AndroidWorld style: one class per task family.

A template draws parameters from the seed, edits the starting phone data, states the goal,
scores the final app state (0..1; composite tasks give the fraction done) and scripts an
oracle. Add one by writing a module in this folder (every module here is imported):

    from stepgym.envs.mobile.templates import Template, register

    @register
    class ClockAddAlarm(Template):
        app = "clock"
        complexity = 1                          # step budget = 10 x complexity
        def params(self, rng, world):   return {"hour": 7, "minute": 30}
        def goal(self, p):              return f"Set an alarm for {p['hour']:02d}:{p['minute']:02d}."
        def check(self, state, p, answer): return float(any(...))
        def oracle(self, p):            return [open_app("Clock"), tap("fab"), ...]

Oracle steps are AndroidWorld actions whose target is a `key` (an element's data-key in the
phone's HTML); the env turns it into the element's index on screen, scrolling to it first.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, ClassVar

import numpy as np

from stepgym.rewards.mobile import answer_matches

TEMPLATES: dict[str, type[Template]] = {}


class Template:
    """One parameterised task family; subclasses override the methods below."""

    app: ClassVar[str] = ""
    complexity: ClassVar[float] = 1.0
    infeasible: ClassVar[bool] = False  # success only by answering status "infeasible"
    retrieval: ClassVar[bool] = False  # success is judged on the `answer` text

    @property
    def name(self) -> str:
        return type(self).__name__

    def params(self, rng: np.random.Generator, world: dict[str, Any]) -> dict[str, Any]:
        """The task's parameters, drawn with `rng` (may read the starting data)."""
        return {}

    def setup(self, world: dict[str, Any], p: dict[str, Any]) -> None:
        """Edit the starting data in place so the task makes sense (default: leave it)."""

    def goal(self, p: dict[str, Any]) -> str:
        raise NotImplementedError

    def check(self, state: dict[str, Any], p: dict[str, Any], answer: str | None) -> float:
        """Score in [0, 1] from the final app state; retrieval tasks compare `answer` with p["answer"]."""
        if self.retrieval:
            return float(answer_matches(answer, p["answer"]))
        return 0.0

    def oracle(self, p: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError


def register(cls: type[Template]) -> type[Template]:
    """Class decorator adding a template to TEMPLATES under its class name."""
    if cls.__name__ in TEMPLATES and TEMPLATES[cls.__name__] is not cls:
        raise ValueError(f"two mobile templates are named {cls.__name__!r}")
    TEMPLATES[cls.__name__] = cls
    return cls


# -- oracle step helpers --------------------------------------------------------------------
def open_app(name: str) -> dict[str, Any]:
    return {"action_type": "open_app", "app_name": name}


def tap(key: str) -> dict[str, Any]:
    return {"action_type": "click", "key": key}


def long_press(key: str) -> dict[str, Any]:
    return {"action_type": "long_press", "key": key}


def double_tap(key: str) -> dict[str, Any]:
    return {"action_type": "double_tap", "key": key}


def type_in(key: str, text: str, clear: bool = False) -> dict[str, Any]:
    step = {"action_type": "input_text", "key": key, "text": text}
    if clear:
        step["clear_text"] = True
    return step


def answer(text: str) -> dict[str, Any]:
    return {"action_type": "answer", "text": text}


DONE = {"action_type": "status", "goal_status": "complete"}
INFEASIBLE = {"action_type": "status", "goal_status": "infeasible"}
BACK = {"action_type": "navigate_back"}


def load_all() -> dict[str, type[Template]]:
    """Import every module of this package (each registers its templates); the registry."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return TEMPLATES
