"""The Policy protocol: a batch of observations (with their histories) in, a batch of actions out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stepgym.envs.pool import EnvPool
    from stepgym.records import Step


@dataclass
class AgentInput:
    """What a policy sees for one env: the current observation, its info and the episode so far."""

    env_index: int
    observation: dict[str, Any]  # "text", and "image" / "frames" where the env has them
    info: dict[str, Any]  # latest info: task_id, instruction, action_doc, state_key, ...
    instruction: str
    action_doc: str
    history: list[Step] = field(default_factory=list)
    history_images: list[Any] = field(default_factory=list)  # image of each history step (or None)


@dataclass
class AgentAction:
    """One action: its text (or a dict for scripted policies) and, when the backend has them,
    the generated token ids and their log-probabilities under the sampling policy."""

    text: str | dict
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    prompt_ids: list[int] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # the backend's exact model inputs for this prompt (HF: `hf.PromptInputs`, with pixel values),
    # so a trainer can score the same tokens without re-encoding; never written to episode records
    prompt_inputs: Any = field(default=None, repr=False)


class Policy:
    """Base class; subclasses implement `act`. Scripted policies may `bind` to an EnvPool."""

    name: str = "policy"

    def bind(self, pool: EnvPool) -> None:
        """Called by the collector before the first `act` on `pool`."""

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        """Recorded with every step (model, sampling settings, ...)."""
        return {"name": self.name}
