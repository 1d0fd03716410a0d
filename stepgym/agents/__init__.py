"""Policies: the Policy protocol, scripted policies, and (with extras) model backends.

Model backends load lazily (`from stepgym.agents import HFPolicy` imports torch only then).
"""

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.scripted import OraclePolicy, RandomPolicy, make_policy

_LAZY = {
    "HFPolicy": "stepgym.agents.hf", "GenerationSettings": "stepgym.agents.sampling",
    "PromptInputs": "stepgym.agents.hf", "sequence_logprobs": "stepgym.agents.hf",
    "PromptConfig": "stepgym.agents.prompting", "build_messages": "stepgym.agents.prompting",
    "OpenAIPolicy": "stepgym.agents.openai_backend", "HTTPSettings": "stepgym.agents.openai_backend",
    "VLLMPolicy": "stepgym.agents.vllm_backend", "Grounding": "stepgym.agents.grounding",
    "build_tiny_vlm": "stepgym.agents.tiny",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stepgym.agents' has no attribute {name!r}")


__all__ = ["Policy", "AgentInput", "AgentAction", "OraclePolicy", "RandomPolicy", "make_policy", *_LAZY]
