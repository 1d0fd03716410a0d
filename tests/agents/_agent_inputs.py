"""Agent inputs from real Sokoban resets, shared by the agent tests (a uniquely named module, so
it cannot clash with another folder's conftest on sys.path)."""

from __future__ import annotations

import stepgym
from stepgym.agents.base import AgentInput


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
