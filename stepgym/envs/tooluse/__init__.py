"""Tool-use environment: tool-call protocol, sandboxed python, calculator, BM25 search, user tools."""

from stepgym.envs.tooluse.env import ToolUseEnv, builtin_tasks
from stepgym.envs.tooluse.protocol import ToolCall, parse_turn
from stepgym.envs.tooluse.sandbox import PythonSandbox, SandboxLimits, SandboxResult
from stepgym.envs.tooluse.tools import Tool, ToolError, tool

__all__ = ["ToolUseEnv", "builtin_tasks", "ToolCall", "parse_turn", "PythonSandbox", "SandboxLimits",
           "SandboxResult", "Tool", "ToolError", "tool"]
