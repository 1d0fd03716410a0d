"""The `python` tool: runs model-written code in `PythonSandbox` and returns its output."""

from __future__ import annotations

from stepgym.envs.tooluse.sandbox import PythonSandbox
from stepgym.envs.tooluse.tools.base import Tool, ToolError, tool


def python_tool(sandbox: PythonSandbox | None = None) -> Tool:
    """A `python` tool bound to `sandbox` (a default-limits sandbox when None)."""
    box = sandbox or PythonSandbox()

    @tool(name="python")
    def python(code: str) -> str:
        """Run a Python 3 program in an isolated sandbox and return what it prints (the value of a final expression is printed too). No network, no files outside its own temporary directory, only the standard library; state does not persist between calls.

        Args:
            code: the program, e.g. "print(sum(range(10)))"
        """
        result = box.run(code)
        if not result.ok:
            detail = result.output.strip()
            raise ToolError(f"python: {result.error}" + (f"\n{detail}" if detail else ""))
        return result.output if result.output else "(no output)"

    return python
