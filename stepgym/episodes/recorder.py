"""A gymnasium wrapper that records any env's episodes into an episode directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

from stepgym.episodes.io import EpisodeWriter
from stepgym.records import Episode, Step


def action_text(action: Any) -> str:
    """The raw action as text (dict actions as JSON)."""
    if isinstance(action, str):
        return action
    try:
        return json.dumps(action, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(action)


def make_step(index: int, prev_obs: dict, prev_info: dict, action: Any, reward: float,
              terminated: bool, truncated: bool, info: dict, policy: dict | None = None) -> Step:
    """The Step record for `action` taken on `prev_obs` (whose info is `prev_info`)."""
    extra = {k: info[k] for k in ("error", "blocked_requests") if k in info}
    return Step(
        index=index,
        observation=str(prev_obs.get("text", "")),
        action=action_text(action),
        parsed_action=info.get("parsed_action"),
        reward=float(reward),
        terminated=bool(terminated),
        truncated=bool(truncated),
        state_key=str(prev_info.get("state_key", "")),
        action_valid=bool(info.get("action_valid", True)),
        action_error=info.get("action_error"),
        policy=dict(policy or {}),
        info=extra,
    )


class RecordEpisodes(gymnasium.Wrapper):
    """Writes every finished episode of the wrapped env to `directory` (see `EpisodeWriter`).

    >>> env = RecordEpisodes(stepgym.make("stepgym/Sokoban-v0"), "runs/rec")
    """

    def __init__(self, env: gymnasium.Env, directory: str | Path, *, save_images: bool = True,
                 policy_meta: dict[str, Any] | None = None) -> None:
        super().__init__(env)
        self.writer = EpisodeWriter(directory)
        self.save_images = save_images
        self.policy_meta = dict(policy_meta or {})
        self._episode: Episode | None = None
        self._images: dict[int, np.ndarray] = {}
        self._obs: dict | None = None
        self._info: dict = {}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        spec_id = self.env.spec.id if self.env.spec else type(self.env.unwrapped).__name__
        self._episode = Episode(env_id=spec_id, task_id=str(info.get("task_id", "")), seed=seed,
                                instruction=str(info.get("instruction", "")),
                                meta={"action_doc": str(info.get("action_doc", "")), **self.policy_meta_entry()})
        self._images = {}
        self._obs, self._info = obs, info
        return obs, info

    def policy_meta_entry(self) -> dict[str, Any]:
        return {"policy": self.policy_meta} if self.policy_meta else {}

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        ep = self._episode
        if ep is not None:
            index = len(ep.steps)
            if self.save_images and isinstance(self._obs, dict) and "image" in self._obs:
                self._images[index] = self._obs["image"]
            ep.steps.append(make_step(index, self._obs, self._info, action, reward, terminated,
                                      truncated, info, self.policy_meta))
            ep.total_reward += float(reward)
            if terminated or truncated:
                ep.success = bool(info.get("success", False))
                self.writer.write(ep, self._images)
                self._episode = None
        self._obs, self._info = obs, info
        return obs, reward, terminated, truncated, info

    def close(self) -> None:
        self.writer.close()
        super().close()
