"""ToolUse: answer questions by calling tools (python, calculator, search, open, your own).

The agent writes Qwen/Hermes tool calls, `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
(several per turn allowed), and reads the results in the next observation inside
`<tool_response>` blocks; `<answer>...</answer>` ends the episode and is scored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.envs.tooluse.protocol import ToolCall, Turn, parse_dict, parse_turn, render_response
from stepgym.envs.tooluse.sandbox import PythonSandbox, SandboxLimits
from stepgym.envs.tooluse.tools import Tool, ToolError, calculator, python_tool, search_tools, tool
from stepgym.envs.tooluse.tools.search import cached_index
from stepgym.paths import asset_path
from stepgym.rewards.tooluse import exact_match, otc_reward, token_f1

REWARDS = ("exact", "f1", "otc")

_DOC = """\
Answer the question using tools. To call tools, write one or more blocks (at most {per_turn} per
turn, {budget} in the whole episode):
<tool_call>{{"name": "<tool name>", "arguments": {{<arguments as a JSON object>}}}}</tool_call>
The results come back in the next observation, in the same order, each inside
<tool_response>...</tool_response>; a failed call's result starts with "Error:".
When you know the answer, reply with <answer>your answer</answer> (numbers as digits, names as
written in the documents). That ends the episode. A turn holds tool calls or an answer, not both.
Tools (JSON schemas):
{schemas}"""


def builtin_tasks(name: str = "tasks") -> TaskSuite:
    """The shipped task suite (computation, lookup and multi-hop questions; train/val/test)."""
    return TaskSuite.load(asset_path("tooluse", f"{name}.jsonl.gz"), name=f"tooluse-{name}")


class ToolUseEnv(StepEnv):
    """Multi-turn tool calling over shipped tasks; a sandboxed python tool, calculator, BM25 search."""

    action_examples = (
        '<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 7"}}</tool_call>',
        '<tool_call>{"name": "search", "arguments": {"query": "founded"}}</tool_call>',
        '<tool_call>{"name": "open", "arguments": {"doc_id": "nosuchdoc"}}</tool_call>',
        '<tool_call>{"name": "calculator", "arguments": {"expression": "1/0"}}</tool_call>',
        "<answer>42</answer>",
        "<tool_call>{not json}</tool_call>",
    )

    def __init__(
        self,
        tasks: str | TaskSuite = "tasks",
        split: str = "all",
        max_steps: int = 10,
        max_calls_per_turn: int = 4,
        max_calls: int = 16,
        reward: str = "exact",
        corpus: str | None = None,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        sandbox: PythonSandbox | None = None,
        sandbox_limits: SandboxLimits | dict | None = None,
        isolation: str = "auto",
        max_response_chars: int = 4000,
        render_mode: str | None = None,
    ) -> None:
        """`tasks`: a built-in suite name, a .jsonl(.gz) path or a TaskSuite. `tools`: extra tools
        (`Tool`s or typed functions, wrapped with `@tool`). `reward`: "exact" (1 for a correct
        answer), "f1" (token F1) or "otc" (exact match times the tool-efficiency factor)."""
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, got {reward!r}")
        for name, value in (("max_calls_per_turn", max_calls_per_turn), ("max_calls", max_calls),
                            ("max_response_chars", max_response_chars)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        suite = TaskSuite.resolve(tasks, builtin_tasks)
        super().__init__(suite, split=split, max_steps=max_steps, render_mode=render_mode)
        self.reward_mode = reward
        self.max_calls_per_turn = max_calls_per_turn
        self.max_calls = max_calls
        self.max_response_chars = max_response_chars
        if sandbox is None:
            if isinstance(sandbox_limits, dict):
                sandbox_limits = SandboxLimits(**sandbox_limits)
            sandbox = PythonSandbox(sandbox_limits or SandboxLimits(), isolation=isolation)
        index = cached_index(str(corpus or asset_path("tooluse", "corpus.jsonl.gz")))
        self.tools: dict[str, Tool] = {}
        for t in [python_tool(sandbox), calculator, *search_tools(index), *tools]:
            t = t if isinstance(t, Tool) else tool(t)
            if t.name in self.tools:
                raise ValueError(f"two tools are named {t.name!r}; tool names must be unique")
            self.tools[t.name] = t
        self.action_doc = _DOC.format(
            per_turn=max_calls_per_turn, budget=max_calls,
            schemas="\n".join(json.dumps(t.schema, ensure_ascii=False) for t in self.tools.values()))
        self.calls: list[ToolCall] = []
        self._known: set[str] = set()  # canonical forms of the calls made
        self._responses: list[str] = []
        self.answer: str | None = None

    @property
    def tool_schemas(self) -> list[dict[str, Any]]:
        """The tools' JSON schemas, as chat templates' `tools=` argument expects them."""
        return [t.schema for t in self.tools.values()]

    # -- StepEnv hooks -------------------------------------------------------------------------
    def _load_task(self, task: Task) -> None:
        if "answer" not in task.data:
            raise ValueError(f"tool-use task {task.task_id!r} needs data['answer']")
        self.calls, self._known, self._responses, self.answer = [], set(), [], None

    def parse_action(self, action: str | dict) -> dict[str, Any]:
        turn: Turn = parse_dict(action) if isinstance(action, dict) else parse_turn(action)
        if turn.errors:
            raise ActionError("; ".join(turn.errors))
        if turn.answer is not None and turn.calls:
            raise ActionError("a turn holds tool calls or an <answer>, not both")
        if turn.answer is not None:
            return {"answer": turn.answer}
        if not turn.calls:
            raise ActionError(
                'expected <tool_call>{"name": ..., "arguments": {...}}</tool_call> or <answer>...</answer>')
        if len(turn.calls) > self.max_calls_per_turn:
            raise ActionError(f"at most {self.max_calls_per_turn} tool calls per turn, got {len(turn.calls)}")
        if len(self.calls) + len(turn.calls) > self.max_calls:
            raise ActionError(f"the budget of {self.max_calls} tool calls is spent "
                              f"({len(self.calls)} made); answer with <answer>...</answer>")
        problems = []
        for i, c in enumerate(turn.calls, 1):
            if c.name not in self.tools:
                problems.append(f"tool call {i}: unknown tool {c.name!r}; tools: {', '.join(self.tools)}")
                continue
            try:
                self.tools[c.name].validate(c.arguments)
            except ToolError as exc:
                problems.append(f"tool call {i}: {exc}")
        if problems:
            raise ActionError("; ".join(problems))
        return {"tool_calls": [{"name": c.name, "arguments": c.arguments} for c in turn.calls]}

    def _apply(self, parsed: dict[str, Any]) -> Outcome:
        if "answer" in parsed:
            self.answer = parsed["answer"]
            self._responses = []
            return Outcome(reward=self._score(self.answer), terminated=True,
                           success=exact_match(self.answer, self._gold) == 1.0)
        self._responses = []
        for c in parsed["tool_calls"]:
            call = ToolCall(c["name"], c["arguments"])
            try:
                text, error = self.tools[call.name](call.arguments), False
            except ToolError as exc:
                text, error = str(exc), True
            if len(text) > self.max_response_chars:
                text = text[: self.max_response_chars] + f"\n[truncated: {len(text) - self.max_response_chars} more characters]"
            self._responses.append(render_response(text, error))
            self.calls.append(call)
            self._known.add(call.canonical())
        return Outcome()

    def _snapshot_state(self):
        # the shipped tools are pure functions of their arguments: the calls made are the state
        return {"calls": list(self.calls), "known": set(self._known), "responses": list(self._responses),
                "answer": self.answer}

    def _restore_state(self, state) -> None:
        self.calls, self._known = list(state["calls"]), set(state["known"])
        self._responses, self.answer = list(state["responses"]), state["answer"]

    @property
    def _gold(self) -> str:
        return str(self.task.data["answer"])

    def _score(self, answer: str) -> float:
        if self.reward_mode == "f1":
            return token_f1(answer, self._gold)
        if self.reward_mode == "otc":
            return otc_reward(answer, self._gold, len(self.calls), len(self.task.data.get("oracle", [])))
        return exact_match(answer, self._gold)

    def _observe_text(self) -> str:
        parts = [f"Question: {self.task.instruction}"]
        if self.answer is not None:
            parts.append(f"Your answer: {self.answer}")
        else:
            if self._last_error:
                parts.append(render_response(self._last_error, error=True))
            parts.extend(self._responses)
            parts.append(f"Tool calls made: {len(self.calls)} of {self.max_calls}. "
                         f"Turns left: {self.max_steps - self.steps}.")
        return "\n".join(parts)

    def _step_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"num_tool_calls": len(self.calls)}
        if self.answer is not None:
            info.update(answer=self.answer, gold_answer=self._gold,
                        exact_match=exact_match(self.answer, self._gold),
                        f1=token_f1(self.answer, self._gold))
        return info

    def state_key(self) -> str:
        """Task id + the sorted set of canonical calls made: tools are pure functions of their
        arguments, so what the agent knows does not depend on the order of its calls."""
        calls = sorted(self._known)
        if self.answer is not None:
            calls.append("answer:" + self.answer)
        digest = hashlib.sha1("\n".join(calls).encode()).hexdigest()[:16] if calls else "-"
        return f"{self.task.task_id}|{len(calls)}|{digest}"

    def canonical_calls(self) -> list[str]:
        """The calls made so far, canonical JSON each, sorted (what `state_key` hashes)."""
        return sorted(self._known)

    def oracle_action(self) -> str:
        """The first oracle call not made yet; the answer once all were made."""
        for c in self.task.data.get("oracle", []):
            call = ToolCall(c["name"], c.get("arguments", {}))
            if call.canonical() not in self._known:
                return call.render()
        return f"<answer>{self._gold}</answer>"
