"""One stepgym env driven an episode at a time by action text: what every trainer integration needs.

`EnvEpisode` keeps the per-step record a trainer reads back (rewards, the state key each action
was taken in, action validity) and, with `record_dir`, writes the finished episode in stepgym's
episode format, so `stepgym view DIR` shows what an external trainer's policy did.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stepgym.agents.prompting import DEFAULT_SYSTEM_PROMPT
from stepgym.episodes.io import EpisodeWriter
from stepgym.episodes.recorder import make_step
from stepgym.episodes.schema import Episode


@dataclass
class EnvTurn:
    """What the env answered: at reset (reward 0) or after one action."""

    text: str
    image: np.ndarray | None
    reward: float
    terminated: bool
    truncated: bool
    state_key: str
    action_valid: bool
    action_error: str | None
    success: bool
    error: str | None = None
    """An infrastructure failure (e.g. a crashed browser): the episode ended, not by the agent."""
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated


class EpisodeOver(RuntimeError):
    """`step` was called after the episode ended; reset first."""


class EnvEpisode:
    """A registered env, reset and stepped one episode at a time, with the episode's step record.

    >>> ep = EnvEpisode("stepgym/Sokoban-v0")
    >>> first = ep.reset(seed=3)
    >>> turn = ep.step("<action>left</action>")
    >>> ep.rewards, ep.state_keys   # per step: reward, state the action was taken in
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None, *,
                 record_dir: str | Path | None = None, policy_meta: dict[str, Any] | None = None) -> None:
        import stepgym

        self.env_id = env_id
        self.env = stepgym.make(env_id, **dict(env_kwargs or {}))
        self.writer = EpisodeWriter(record_dir) if record_dir is not None else None
        self.policy_meta = dict(policy_meta or {})
        self._record: Episode | None = None
        self._images: dict[int, np.ndarray] = {}
        self.task_id = ""
        self.seed: int | None = None
        self.instruction = ""
        self.action_doc = ""
        self._clear()

    def _clear(self) -> None:
        self.rewards: list[float] = []
        self.state_keys: list[str] = []  # state in which each step's action was taken
        self.action_valid: list[bool] = []
        self.last: EnvTurn | None = None
        self.error: str | None = None

    @property
    def done(self) -> bool:
        return self.last is None or self.last.done

    @property
    def total_reward(self) -> float:
        return float(sum(self.rewards))

    @property
    def success(self) -> bool:
        return bool(self.last is not None and self.last.success and self.last.done)

    def reset(self, seed: int | None = None, task_id: str | None = None) -> EnvTurn:
        """The first observation of a new episode (same seed and task: same episode)."""
        self.finish()
        options = {"task_id": task_id} if task_id else None
        obs, info = self.env.reset(seed=seed, options=options)
        self._clear()
        self.seed = seed
        self.task_id = str(info.get("task_id", ""))
        self.instruction = str(info.get("instruction", ""))
        self.action_doc = str(info.get("action_doc", ""))
        self.last = self._turn(obs, 0.0, False, False, info)
        if self.writer is not None:
            self._record = Episode(env_id=self.env_id, task_id=self.task_id, seed=seed,
                                   instruction=self.instruction,
                                   meta={"action_doc": self.action_doc, "policy": self.policy_meta})
            self._images = {}
            self._prev = (obs, info)
        return self.last

    def step(self, action: str | dict) -> EnvTurn:
        """The env's answer to one action; raises `EpisodeOver` after the episode ended."""
        if self.last is None or self.last.done:
            raise EpisodeOver(f"the {self.env_id} episode is over (or was never reset); call reset first")
        key = self.last.state_key
        obs, reward, terminated, truncated, info = self.env.step(action)
        turn = self._turn(obs, float(reward), bool(terminated), bool(truncated), info)
        self.rewards.append(turn.reward)
        self.state_keys.append(key)
        self.action_valid.append(turn.action_valid)
        self.error = turn.error or self.error
        self.last = turn
        if self._record is not None:
            prev_obs, prev_info = self._prev
            index = len(self._record.steps)
            if isinstance(prev_obs, dict) and prev_obs.get("image") is not None:
                self._images[index] = prev_obs["image"]
            self._record.steps.append(make_step(index, prev_obs, prev_info, action, turn.reward,
                                                turn.terminated, turn.truncated, info, self.policy_meta))
            self._prev = (obs, info)
            if turn.done:
                self.finish()
        return turn

    def finish(self) -> None:
        """Write the episode record (if recording) now. One the trainer stopped before the env
        ended it (turn or token budget) is written with its last step marked truncated."""
        record, self._record = self._record, None
        if record is None or self.writer is None or not record.steps:
            return
        if not (record.steps[-1].terminated or record.steps[-1].truncated):
            record.steps[-1].truncated = True
            record.meta["stopped_by"] = "trainer budget"
        record.total_reward = float(sum(s.reward for s in record.steps))
        record.success = self.success
        self.writer.write(record, self._images)

    @staticmethod
    def _turn(obs: dict, reward: float, terminated: bool, truncated: bool, info: dict) -> EnvTurn:
        image = obs.get("image") if isinstance(obs, dict) else None
        return EnvTurn(
            text=str(obs.get("text", "")) if isinstance(obs, dict) else str(obs),
            image=None if image is None else np.asarray(image),
            reward=reward, terminated=terminated, truncated=truncated,
            state_key=str(info.get("state_key", "")),
            action_valid=bool(info.get("action_valid", True)),
            action_error=info.get("action_error"),
            success=bool(info.get("success", False)),
            error=info.get("error"), info=info,
        )

    def system_prompt(self) -> str:
        """stepgym's default system prompt with this env's action grammar."""
        return DEFAULT_SYSTEM_PROMPT.replace("{action_doc}", self.action_doc.strip())

    def first_message(self) -> str:
        """The first user message of an episode: instruction and first observation."""
        return f"Task: {self.instruction}\nObservation (step 1):\n{self._current().text}\n"

    def observation_message(self) -> str:
        """The user message after a step: the new observation (it repeats an invalid action's error)."""
        return f"Observation (step {len(self.rewards) + 1}):\n{self._current().text}\n"

    def _current(self) -> EnvTurn:
        if self.last is None:
            raise EpisodeOver(f"the {self.env_id} episode was never reset; call reset first")
        return self.last

    def close(self) -> None:
        self.finish()
        if self.writer is not None:
            self.writer.close()
        self.env.close()


def png_base64(image: np.ndarray) -> str:
    """A base64 PNG of an HxWx3 uint8 image (how JSON-only protocols carry screenshots)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def image_from_base64(data: str) -> np.ndarray:
    """The HxWx3 uint8 array of a base64 PNG/JPEG string."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
