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

import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium
import numpy as np

from stepgym.envs.fork import (
    EnvSnapshot,
    EpisodePrefix,
    ForkError,
    ForkNotSupported,
    rng_from_state,
)
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
        self._prefix: EpisodePrefix | None = None  # how to replay this episode (forks)

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

    def _snapshot_state(self) -> Any:
        """The env's own episode state (besides task, step count, RNG), for a native fork.

        Envs whose state is cheap to copy override this and `_restore_state`; the default says
        the env has none, and `EnvPool.fork` then replays the reset and the action prefix.
        What is returned must not change when the env steps on (copy mutable parts) and must
        pickle (process workers ship it)."""
        raise ForkNotSupported(f"{type(self).__name__} has no native snapshot")

    def _restore_state(self, state: Any) -> None:
        """Put `state` (from `_snapshot_state`) back; the inverse of `_snapshot_state`."""
        raise ForkNotSupported(f"{type(self).__name__} has no native snapshot")

    def _replay_extras(self) -> dict[str, Any]:
        """State a replay of the actions does not rebuild (a scripted oracle's position), carried
        over to a replayed fork by `_apply_replay_extras`."""
        return {}

    def _apply_replay_extras(self, extras: dict[str, Any]) -> None:
        pass

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
        self._prefix = EpisodePrefix(seed=seed, options=copy.deepcopy(options),
                                     rng_state=copy.deepcopy(self.np_random.bit_generator.state))
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
        self._prefix.state_keys.append(info["state_key"])
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
        self._prefix.actions.append(copy.deepcopy(action) if isinstance(action, dict) else action)
        self._prefix.state_keys.append(info["state_key"])
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

    # -- forking (stepgym.envs.fork; `EnvPool.fork` is the entry point) --------------------------
    @property
    def native_fork(self) -> bool:
        """Whether this env forks by `snapshot`/`restore` (else by replaying its action prefix)."""
        return type(self)._snapshot_state is not StepEnv._snapshot_state

    def episode_prefix(self) -> EpisodePrefix:
        """How to rebuild the current episode: reset seed, options, RNG state and actions so far."""
        self._check_forkable()
        return EpisodePrefix(self._prefix.seed, copy.deepcopy(self._prefix.options), self._prefix.rng_state,
                             list(self._prefix.actions), list(self._prefix.state_keys), self._replay_extras())

    def snapshot(self) -> EnvSnapshot:
        """The current episode's exact state (a native fork's source); see `_snapshot_state`."""
        self._check_forkable()
        return EnvSnapshot(env_class=type(self).__qualname__, task=self.task, steps=self.steps,
                           last_error=self._last_error, rng_state=copy.deepcopy(self.np_random.bit_generator.state),
                           prefix=self.episode_prefix(), state=self._snapshot_state())

    def restore(self, snap: EnvSnapshot) -> tuple[dict[str, Any], str]:
        """Put a `snapshot()` of an env of the same class and kwargs into this one; returns the
        observation and state key it is in then (what `EnvPool.fork` checks against the source)."""
        if snap.env_class != type(self).__qualname__:
            raise ForkError(f"cannot restore a {snap.env_class} snapshot into a {type(self).__qualname__}")
        self.task, self.steps, self._last_error = snap.task, snap.steps, snap.last_error
        self._np_random = rng_from_state(snap.rng_state)
        self._restore_state(snap.state)
        p = snap.prefix
        self._prefix = EpisodePrefix(p.seed, copy.deepcopy(p.options), p.rng_state, list(p.actions),
                                     list(p.state_keys), dict(p.extras))
        self._done = False
        return self._observation(), self.state_key()

    def prepare_replay(self, prefix: EpisodePrefix) -> None:
        """Before a replayed reset without a seed: take the RNG state the source's reset had."""
        if prefix.seed is None:
            self._np_random = rng_from_state(prefix.rng_state)

    def finish_replay(self, prefix: EpisodePrefix) -> None:
        """After the replayed steps: carry over what replaying does not rebuild."""
        self._apply_replay_extras(prefix.extras)

    def _check_forkable(self) -> None:
        if self._prefix is None or self.task is None:
            raise ForkError(f"{type(self).__name__} has no episode to fork; reset it first")
        if self._done:
            raise ForkError(f"{type(self).__name__}'s episode is over (step {self.steps}); "
                            "fork an env mid-episode")

    def render(self):
        if self.render_mode == "rgb_array":
            return self._observe_image() if self.visual else None
        if self.render_mode == "ansi":
            return self._observe_text()
        return None
