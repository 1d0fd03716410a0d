"""The Qwen / Hermes tool-call protocol: `<tool_call>{json}</tool_call>` in, `<tool_response>` out.

>>> turn = parse_turn('<tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>')
>>> turn.calls[0].name, turn.calls[0].arguments, turn.errors
('calculator', {'expression': '2+2'}, [])
>>> parse_turn("<answer> 42 </answer>").answer
'42'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_OPEN_CALL = re.compile(r"<tool_call>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One requested call: a tool name and its JSON arguments."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict, hash=False)

    def canonical(self) -> str:
        """Compact JSON with sorted keys: equal calls give equal strings."""
        return json.dumps({"name": self.name, "arguments": self.arguments}, sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)

    def render(self) -> str:
        """The call as a model writes it."""
        body = json.dumps({"name": self.name, "arguments": self.arguments}, ensure_ascii=False)
        return f"<tool_call>{body}</tool_call>"


@dataclass
class Turn:
    """A parsed model turn: tool calls, or a final answer, plus what was malformed."""

    calls: list[ToolCall] = field(default_factory=list)
    answer: str | None = None
    errors: list[str] = field(default_factory=list)


def _call_from_obj(obj: Any) -> ToolCall:
    if not isinstance(obj, dict):
        raise ValueError(f"a tool call must be a JSON object, got {type(obj).__name__}")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError('a tool call needs "name": a tool name string')
    args = obj.get("arguments", {})
    if isinstance(args, str):  # some models double-encode the arguments
        try:
            args = json.loads(args) if args.strip() else {}
        except RecursionError:
            raise ValueError(f'"arguments" of {name!r} is nested too deeply') from None
        except json.JSONDecodeError as exc:
            raise ValueError(f'"arguments" of {name!r} is a string that is not JSON: {exc.msg}') from None
    if not isinstance(args, dict):
        raise ValueError(f'"arguments" of {name!r} must be a JSON object, got {type(args).__name__}')
    extra = sorted(set(obj) - {"name", "arguments"})
    if extra:
        raise ValueError(f'a tool call has only "name" and "arguments", got extra keys {extra}')
    return ToolCall(name, args)


def parse_turn(text: str) -> Turn:
    """Split a model turn into tool calls / an answer; malformed parts become `errors` (never raises)."""
    turn = Turn()
    blocks = _CALL.findall(text)
    if len(_OPEN_CALL.findall(text)) > len(blocks):
        turn.errors.append("a <tool_call> is not closed with </tool_call>")
    for i, block in enumerate(blocks, 1):
        try:
            turn.calls.append(_call_from_obj(json.loads(block)))
        except json.JSONDecodeError as exc:
            turn.errors.append(f"tool call {i}: invalid JSON ({exc.msg} at char {exc.pos}): {block.strip()[:60]!r}")
        except ValueError as exc:
            turn.errors.append(f"tool call {i}: {exc}")
        except RecursionError:
            turn.errors.append(f"tool call {i}: JSON nested too deeply")
    answers = _ANSWER.findall(text)
    if answers:
        turn.answer = answers[-1].strip()
    return turn


def parse_dict(action: dict[str, Any]) -> Turn:
    """A structured action: {"answer": ...}, {"tool_calls": [...]} or a single {"name", "arguments"}."""
    turn = Turn()
    if "answer" in action:
        turn.answer = str(action["answer"]).strip()
        return turn
    raw = action.get("tool_calls", [action] if "name" in action else None)
    if not isinstance(raw, list):
        turn.errors.append('expected {"answer": ...}, {"tool_calls": [...]} or {"name": ..., "arguments": {...}}')
        return turn
    for i, obj in enumerate(raw, 1):
        try:
            turn.calls.append(_call_from_obj(obj))
        except ValueError as exc:
            turn.errors.append(f"tool call {i}: {exc}")
    return turn


def render_response(content: str, error: bool = False) -> str:
    """One result block; errors start with "Error:" so the model can tell them apart."""
    body = f"Error: {content}" if error else content
    return f"<tool_response>\n{body.rstrip()}\n</tool_response>"
