"""The episode record every part of stepgym reads and writes: an `Episode` of `Step`s.

Plain data with no stepgym imports, so it sits in the bottom layer: agents keep their history
as `Step`s, the runner and recorder write them, trainers and evaluators read them.
`from stepgym.episodes import Episode, Step` is the public spelling.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Step:
    """One agent step: what it saw, what it said, what happened."""

    index: int
    observation: str  # the observation text the agent acted on
    action: str  # the raw action text (a dict action is stored as JSON text)
    parsed_action: dict[str, Any] | None = None
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    state_key: str = ""  # key of the state the action was taken in
    action_valid: bool = True
    action_error: str | None = None
    image: str | None = None  # media path relative to the episode directory, or None
    policy: dict[str, Any] = field(default_factory=dict)  # model, sampling, token ids, log-probs
    info: dict[str, Any] = field(default_factory=dict)  # extra JSON-able env info (e.g. "error")
    # optional, for recorded benchmarks (stepgym.episodes.offline); older records read with defaults
    step_id: str | None = None  # the benchmark's id of this step, to join predictions on
    instruction: str | None = None  # a step-level instruction (AndroidControl / GUI-Odyssey low level)
    screen: list[int] | None = None  # [width, height] in pixels of the screen the action refers to
    elements: list[dict[str, Any]] = field(default_factory=list)  # UI elements: "bbox" [l, t, r, b] px, "text", ...

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Step:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Episode:
    """A finished episode: its task, its steps and its outcome."""

    env_id: str
    task_id: str
    seed: int | None
    instruction: str
    steps: list[Step] = field(default_factory=list)
    total_reward: float = 0.0
    success: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    episode_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def num_steps(self) -> int:
        return len(self.steps)

    @property
    def truncated(self) -> bool:
        return bool(self.steps) and self.steps[-1].truncated

    @property
    def invalid_actions(self) -> int:
        return sum(not s.action_valid for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Episode:
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in d.items() if k in names and k != "steps"}
        return cls(steps=[Step.from_dict(s) for s in d.get("steps", [])], **data)
