"""Shared fixtures of the agent tests: one tiny Qwen2.5-VL directory per session, env inputs."""

from __future__ import annotations

import pytest

import stepgym
from stepgym.agents.base import AgentInput


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from stepgym.agents.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "tiny-vlm", size="tiny", seed=0)


def sokoban_inputs(n: int, env_id: str = "stepgym/Sokoban-v0") -> list[AgentInput]:
    """`n` fresh Sokoban observations (seeds 0..n-1) as agent inputs."""
    env = stepgym.make(env_id)
    out = []
    for i in range(n):
        obs, info = env.reset(seed=i)
        out.append(AgentInput(env_index=i, observation=obs, info=info, instruction=info["instruction"],
                              action_doc=info["action_doc"]))
    env.close()
    return out


@pytest.fixture()
def inputs():
    return sokoban_inputs(4)
