"""Scripted policies: the env's own oracle, and uniform random actions."""

from __future__ import annotations

import copy

import numpy as np

from stepgym.agents.base import AgentAction, AgentInput, Policy


class OraclePolicy(Policy):
    """Plays each env's scripted solution (`env.oracle_action()`), fetched through the pool."""

    name = "oracle"

    def __init__(self) -> None:
        self._pool = None

    def bind(self, pool) -> None:
        self._pool = pool

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        if self._pool is None:
            raise RuntimeError("OraclePolicy needs bind(pool) before act(): it asks the envs for their oracle")
        actions = self._pool.call("oracle_action", [inp.env_index for inp in inputs])
        return [AgentAction(text=a) for a in actions]


class RandomPolicy(Policy):
    """Uniform over `info["available_actions"]` when the env lists them, else the action space's samples."""

    name = "random"

    def __init__(self, seed: int | None = 0) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._space = None

    def bind(self, pool) -> None:
        space = pool.call("action_space", [0])[0]
        self._space = copy.deepcopy(space)
        self._space.seed(None if self.seed is None else int(self.rng.integers(2**31)))

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = []
        for inp in inputs:
            choices = inp.info.get("available_actions")
            if isinstance(choices, list) and choices:
                out.append(AgentAction(text=choices[int(self.rng.integers(len(choices)))]))
            elif self._space is not None:
                out.append(AgentAction(text=self._space.sample()))
            else:
                raise RuntimeError("RandomPolicy needs bind(pool) or info['available_actions']")
        return out

    def metadata(self):
        return {"name": self.name, "seed": self.seed}


def make_policy(spec: str, seed: int | None = 0) -> Policy:
    """A policy from a command-line spec.

    `oracle`, `random`, `hf:DIR` (a local transformers model directory), `openai:URL[#MODEL]`
    (an OpenAI-compatible server) or `vllm:DIR`. Model specs take sampling / prompt options after
    `?`, e.g. `hf:runs/tiny?temperature=0&max_new_tokens=16&history_mode=conversation`.
    """
    if spec == "oracle":
        return OraclePolicy()
    if spec == "random":
        return RandomPolicy(seed=seed)
    if spec.split(":", 1)[0] in ("hf", "openai", "vllm") and ":" in spec:
        from stepgym.agents.factory import make_model_policy

        return make_model_policy(spec, seed=seed)
    raise ValueError(f"unknown policy {spec!r}; expected one of: oracle, random, hf:DIR, "
                     "openai:URL[#MODEL], vllm:DIR (model specs take ?key=value options)")
