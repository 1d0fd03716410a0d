"""Rollout engines: what samples the trainer's actions, and how it gets the trainer's weights.

The trainer encodes prompts with its own processor (`HFPolicy.encode`, so the token ids it trains
on are exactly those the engine saw), hands them to the engine, and after every update calls
`engine.sync(model)`. `"hf"` samples with the trainer's own model (sync is a no-op: same object);
another engine (vLLM) keeps its own copy of the weights and must load the new ones in `sync`.

Add one in its own module:

    from stepgym.trainers.engines import ENGINES, RolloutEngine

    @ENGINES.register("mine")
    class MyEngine(RolloutEngine):
        def generate(self, prompts, settings, call): ...   # -> list[AgentAction]
        def sync(self, model): ...
"""

from __future__ import annotations

from typing import Any

from stepgym.agents.base import AgentAction
from stepgym.agents.hf import GenerationSettings, HFPolicy, PromptInputs
from stepgym.trainers.registry import Registry


class RolloutEngine:
    """Samples one response per prompt with token ids and their log-probs (`AgentAction`s)."""

    name = "engine"

    def __init__(self, policy: HFPolicy, **options: Any) -> None:
        self.policy = policy

    def generate(self, prompts: list[PromptInputs], settings: GenerationSettings, call: int) -> list[AgentAction]:
        """One action per prompt; the same (settings.seed, call) must draw the same tokens, so that a
        resumed run repeats an uninterrupted one (as far as the engine is deterministic).
        Each action's `logprobs` are log-softmax of the unmodified logits of its sampled tokens."""
        raise NotImplementedError

    def sync(self, model) -> None:
        """Make the engine sample with `model`'s current weights (called after every update)."""

    def close(self) -> None:
        """Release the engine's processes and memory."""


ENGINES: Registry[type[RolloutEngine]] = Registry("rollout engine")


@ENGINES.register("hf")
class HFEngine(RolloutEngine):
    """The trainer's own transformers model (`HFPolicy.generate`): exact, no weight copy."""

    name = "hf"

    def generate(self, prompts: list[PromptInputs], settings: GenerationSettings, call: int) -> list[AgentAction]:
        return self.policy.generate(prompts, settings, call=call)
