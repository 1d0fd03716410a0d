"""The contract every stepgym environment follows (docs/architecture.md, "The environment contract").

Subclasses implement five small methods; the base class owns the rest of the contract:
seeding, task choice, the step limit, the `info` keys and the rule that an agent's bad
action is reported, never raised.

    class MyEnv(StepEnv):
        action_doc = "Reply with ..."
        def _load_task(self, task): ...          # set up state from the task (use self.np_random)
        def parse_action(self, action): ...      # text or dict -> dict; raise ActionError if malformed
        def _apply(self, parsed): ...            # change state -> Outcome; raise ActionError if impossible
        def _observe_text(self): ...             # textual state
        def state_key(self): ...                 # short string naming the state (not the history)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np

from stepgym.envs.spaces import FreeText, observation_space
from stepgym.envs.tasks import Task, TaskSuite


class ActionError(ValueError):
    """An agent's action is malformed or impossible here. Reported in `info`, never raised out of `step`."""


@dataclass
class Outcome:
    """What applying one valid action did."""

    reward: float = 0.0
    terminated: bool = False
    success: bool = False


class StepEnv(gymnasium.Env):
    """Base class: text observation (+ optional image), free-text actions, task suites."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    action_doc: ClassVar[str] = ""
    #: actions `FreeText.sample()` draws from (besides junk); used by RandomPolicy and check_env
    action_examples: ClassVar[tuple[str, ...]] = ()
    visual: ClassVar[bool] = False

    def __init__(
        self,
        tasks: TaskSuite,
        split: str = "all",
        max_steps: int = 50,
        render_mode: str | None = None,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int, got {max_steps!r}")
        self.render_mode = render_mode
        self.tasks = tasks
        self.split_name = split
        self.split_tasks = tasks.split(split)
        self.max_steps = max_steps
        self.action_space = FreeText(examples=self.action_examples)
        self.observation_space = observation_space(image=self.visual, extra=self._extra_spaces())
        self.task: Task | None = None
        self.steps = 0
        self._done = True
        self._last_error: str | None = None

    # -- subclass hooks ------------------------------------------------------------------
    def _extra_spaces(self) -> dict[str, gymnasium.Space]:
        return {}

    def _load_task(self, task: Task) -> None:
        raise NotImplementedError

    def parse_action(self, action: str | dict) -> dict[str, Any]:
        raise NotImplementedError

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def _observe_text(self) -> str:
        raise NotImplementedError

    def _observe_image(self) -> np.ndarray:
        raise NotImplementedError

    def _observe_extra(self) -> dict[str, Any]:
        return {}

    def _step_info(self) -> dict[str, Any]:
        """Env-specific info entries added at every reset and step (e.g. `available_actions`)."""
        return {}

    def state_key(self) -> str:
        raise NotImplementedError

    def oracle_action(self) -> str | dict:
        """The scripted solution's next action from the current state."""
        raise NotImplementedError(f"{type(self).__name__} has no oracle")

    # -- the contract ----------------------------------------------------------------------
    def _choose_task(self, options: dict[str, Any] | None) -> Task:
        options = options or {}
        unknown = set(options) - {"task_id", "task"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; expected 'task_id' or 'task'")
        if "task" in options:
            task = options["task"]
            if isinstance(task, dict):
                task = Task.from_record(task)
            if not isinstance(task, Task):
                raise TypeError(f"options['task'] must be a Task or a task record, got {type(task).__name__}")
            return task
        if options.get("task_id") is not None:
            return self.tasks.get(str(options["task_id"]))
        return self.split_tasks[int(self.np_random.integers(len(self.split_tasks)))]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.task = self._choose_task(options)
        self.steps = 0
        self._last_error = None
        self._load_task(self.task)
        self._done = False
        info = {
            "task_id": self.task.task_id,
            "instruction": self.task.instruction,
            "action_doc": self.action_doc,
            "state_key": self.state_key(),
            "action_valid": True,
            "action_error": None,
            "success": False,
            **self._step_info(),
        }
        return self._observation(), info

    def step(self, action: str | dict):
        if self._done:
            raise RuntimeError(
                f"{type(self).__name__}.step() called on a finished episode; call reset() first"
            )
        parsed: dict[str, Any] | None = None
        try:
            if not isinstance(action, (str, dict)):
                raise ActionError(
                    f"action must be text (str) or a dict, got {type(action).__name__}"
                )
            parsed = self.parse_action(action)
            outcome = self._apply(parsed)
            self._last_error = None
        except ActionError as exc:
            outcome = Outcome()
            self._last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.steps += 1
        terminated = bool(outcome.terminated)
        truncated = (not terminated) and self.steps >= self.max_steps
        self._done = terminated or truncated
        info = {
            "task_id": self.task.task_id,
            "state_key": self.state_key(),
            "action_valid": self._last_error is None,
            "action_error": self._last_error,
            "parsed_action": parsed if self._last_error is None else None,
            "success": bool(outcome.success),
            **self._step_info(),
        }
        return self._observation(), float(outcome.reward), terminated, truncated, info

    def _observation(self) -> dict[str, Any]:
        text = self._observe_text()
        if self._last_error:
            text = f"{text}\nLast action was invalid: {self._last_error}"
        obs: dict[str, Any] = {"text": text}
        if self.visual:
            obs["image"] = self._observe_image()
        obs.update(self._observe_extra())
        return obs

    def render(self):
        if self.render_mode == "rgb_array":
            return self._observe_image() if self.visual else None
        if self.render_mode == "ansi":
            return self._observe_text()
        return None
