"""Policies: the Policy protocol, scripted policies, and (with extras) model backends."""

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.scripted import OraclePolicy, RandomPolicy, make_policy

__all__ = ["Policy", "AgentInput", "AgentAction", "OraclePolicy", "RandomPolicy", "make_policy"]
