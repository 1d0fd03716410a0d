"""Tools for the tool-use env: the `@tool` decorator, python, calculator, search and open."""

from stepgym.envs.tooluse.tools.base import Tool, ToolError, json_schema_for, tool
from stepgym.envs.tooluse.tools.calculator import calculate, calculator
from stepgym.envs.tooluse.tools.python import python_tool
from stepgym.envs.tooluse.tools.search import Document, Hit, SearchIndex, search_tools

__all__ = ["Tool", "ToolError", "tool", "json_schema_for", "calculator", "calculate", "python_tool",
           "SearchIndex", "Document", "Hit", "search_tools"]
