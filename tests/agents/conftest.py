"""Shared fixtures of the agent tests: one tiny Qwen2.5-VL directory per session, env inputs."""

from __future__ import annotations

import pytest
from _agent_inputs import sokoban_inputs


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from stepgym.agents.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "tiny-vlm", size="tiny", seed=0)


@pytest.fixture()
def inputs():
    return sokoban_inputs(4)
