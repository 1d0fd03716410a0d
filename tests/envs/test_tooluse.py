"""ToolUse-v0: protocol parsing, tools, user tools, oracle on every shipped task, state keys."""

from __future__ import annotations

import json
import re
from typing import Literal

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stepgym
from stepgym.envs.tooluse import ToolUseEnv, builtin_tasks, parse_turn, tool
from stepgym.envs.tooluse.tools import ToolError, calculate
from stepgym.envs.tooluse.tools.search import SearchIndex, load_corpus
from stepgym.paths import asset_path
from stepgym.rewards.tooluse import normalize_answer

TASKS = builtin_tasks()


def call(name: str, **arguments) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


@pytest.fixture(scope="module")
def env():
    return ToolUseEnv()


def start(env: ToolUseEnv, task_id: str = "lookup-000"):
    return env.reset(seed=0, options={"task_id": task_id})


# -- protocol --------------------------------------------------------------------------------
def test_parse_several_calls_in_order():
    turn = parse_turn("thinking...\n" + call("search", query="a") + "\n" + call("calculator", expression="1+2"))
    assert [c.name for c in turn.calls] == ["search", "calculator"]
    assert turn.calls[1].arguments == {"expression": "1+2"}
    assert turn.errors == [] and turn.answer is None


def test_parse_accepts_string_encoded_arguments():
    turn = parse_turn('<tool_call>{"name": "search", "arguments": "{\\"query\\": \\"x\\"}"}</tool_call>')
    assert turn.calls[0].arguments == {"query": "x"}


@pytest.mark.parametrize("text, fragment", [
    ("<tool_call>{name: 1}</tool_call>", "invalid JSON"),
    ('<tool_call>{"arguments": {}}</tool_call>', '"name"'),
    ('<tool_call>{"name": "search", "arguments": [1]}</tool_call>', "must be a JSON object"),
    ('<tool_call>{"name": "search", "arguments": {"query": "x"}', "not closed"),
    ('<tool_call>{"name": "search", "args": {}}</tool_call>', "extra keys"),
])
def test_parse_reports_malformed_calls(text, fragment):
    turn = parse_turn(text)
    assert turn.calls == []
    assert any(fragment in e for e in turn.errors), turn.errors


def test_canonical_call_ignores_key_order_and_spacing():
    a = parse_turn('<tool_call>{"name":"x","arguments":{"b":1,"a":2}}</tool_call>').calls[0]
    b = parse_turn('<tool_call>{ "arguments": {"a": 2, "b": 1}, "name": "x" }</tool_call>').calls[0]
    assert a.canonical() == b.canonical()


_FRAGMENTS = st.sampled_from([
    "<tool_call>", "</tool_call>", "<answer>", "</answer>", '{"name": "calculator", "arguments": ',
    '{"expression": "1+2"}', '{"name": "search", "arguments": {"query": "x", "k": 99}}', "}", "{",
    '"arguments": "{', "[" * 3000, "1e999", "9" * 5000, '"k": true', "null", '\\u0000',
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=20)), max_size=8).map("".join))
def test_any_text_is_handled_without_raising(env, text):
    start(env)
    obs, reward, term, trunc, info = env.step(text)
    assert isinstance(obs["text"], str) and 0.0 <= reward <= 1.0
    assert info["action_valid"] or info["action_error"]


# -- the env's handling of turns -------------------------------------------------------------
def test_reset_info_lists_tools_with_schemas(env):
    obs, info = start(env)
    assert obs["text"].startswith("Question: ")
    for name in ("python", "calculator", "search", "open"):
        assert f'"name": "{name}"' in info["action_doc"]
    assert [s["function"]["name"] for s in env.tool_schemas] == ["python", "calculator", "search", "open"]


def test_results_come_back_in_order_as_tool_responses(env):
    start(env)
    obs, reward, term, trunc, info = env.step(call("calculator", expression="6*7") + call("search", query="Rikosho"))
    assert info["action_valid"] and not term and reward == 0.0
    blocks = obs["text"].split("<tool_response>\n")[1:]
    assert blocks[0].startswith("42\n</tool_response>")
    assert "[rikosho] Rikosho" in blocks[1]
    assert info["num_tool_calls"] == 2


@pytest.mark.parametrize("action, fragment", [
    ("<tool_call>{oops}</tool_call>", "invalid JSON"),
    (call("nosuchtool", x=1), "unknown tool 'nosuchtool'"),
    (call("calculator", expr="1+1"), "unknown argument(s) ['expr']"),
    (call("calculator"), "missing required argument(s) ['expression']"),
    (call("search", query="x", k="three"), "must be integer"),
    ("I think the answer is 4", "expected <tool_call>"),
    (call("calculator", expression="1") + "<answer>1</answer>", "not both"),
    (call("calculator", expression="1") * 5, "at most 4 tool calls per turn"),
])
def test_malformed_calls_are_invalid_actions_with_a_readable_tool_error(env, action, fragment):
    start(env)
    key = env.state_key()
    obs, reward, term, trunc, info = env.step(action)
    assert not info["action_valid"] and fragment in info["action_error"]
    assert "<tool_response>\nError: " in obs["text"] and fragment in obs["text"]
    assert env.state_key() == key and not term and reward == 0.0
    obs, *_ , info = env.step(call("calculator", expression="2+3"))
    assert info["action_valid"] and "<tool_response>\n5\n</tool_response>" in obs["text"]


def test_tool_runtime_errors_are_valid_turns_with_error_responses(env):
    start(env)
    obs, _, _, _, info = env.step(call("calculator", expression="1/0") + call("open", doc_id="rikoshoo")
                                  + call("python", code="raise ValueError('boom')"))
    assert info["action_valid"]
    text = obs["text"]
    assert "Error: calculator: division by zero" in text
    assert "Error: open: no document with id 'rikoshoo'; did you mean rikosho" in text
    assert "Error: python: exit status 1: ValueError: boom" in text
    assert info["num_tool_calls"] == 3


def test_call_budget_is_enforced(env):
    e = ToolUseEnv(max_calls=2)
    start(e)
    e.step(call("calculator", expression="1") + call("calculator", expression="2"))
    _, _, _, _, info = e.step(call("calculator", expression="3"))
    assert not info["action_valid"] and "budget of 2 tool calls is spent" in info["action_error"]
    _, reward, term, _, info = e.step("<answer>nope</answer>")
    assert term and reward == 0.0 and not info["success"]


def test_answer_ends_the_episode_and_is_scored(env):
    start(env, "lookup-000")
    gold = env.task.data["answer"]
    _, reward, term, trunc, info = env.step(f"<answer> {gold} </answer>")
    assert term and not trunc and reward == 1.0 and info["success"]
    assert info["gold_answer"] == gold and info["exact_match"] == 1.0
    start(env, "lookup-000")
    _, reward, term, _, info = env.step("<answer>1</answer>")
    assert term and reward == 0.0 and not info["success"]


def test_running_out_of_turns_truncates(env):
    e = ToolUseEnv(max_steps=2)
    start(e)
    e.step(call("calculator", expression="1"))
    _, reward, term, trunc, _ = e.step(call("calculator", expression="2"))
    assert trunc and not term and reward == 0.0


def test_otc_reward_prefers_fewer_calls():
    e = ToolUseEnv(reward="otc")
    start(e, "arithmetic-000")
    expr = e.task.data["oracle"][0]["arguments"]["expression"]
    gold = e.task.data["answer"]
    e.step(call("calculator", expression=expr))
    _, lean, *_ = e.step(f"<answer>{gold}</answer>")
    start(e, "arithmetic-000")
    for i in range(3):
        e.step(call("calculator", expression=f"{expr} + {i}"))
    _, wasteful, *_ = e.step(f"<answer>{gold}</answer>")
    assert lean == 1.0 and 0.0 < wasteful < lean


def test_f1_reward_gives_partial_credit():
    e = ToolUseEnv(reward="f1")
    task = next(t for t in TASKS if " " in t.data["answer"])
    start(e, task.task_id)
    _, reward, *_ = e.step(f"<answer>{task.data['answer'].split()[0]}</answer>")
    assert 0.0 < reward < 1.0


# -- state keys ------------------------------------------------------------------------------
def test_state_key_is_task_plus_canonical_calls(env):
    start(env, "lookup-000")
    k0 = env.state_key()
    assert k0.startswith("lookup-000|0")
    env.step(call("search", query="a") + call("calculator", expression="1+1"))
    k_ab = env.state_key()
    start(env, "lookup-000")
    env.step('<tool_call>{"arguments": {"expression": "1+1"}, "name": "calculator"}</tool_call>')
    env.step(call("search", query="a"))
    assert env.state_key() == k_ab  # same calls, other order and spacing: same knowledge
    start(env, "lookup-001")
    env.step(call("search", query="a") + call("calculator", expression="1+1"))
    assert env.state_key() != k_ab  # another task
    start(env, "lookup-000")
    env.step(call("search", query="b") + call("calculator", expression="1+1"))
    assert env.state_key() != k_ab  # other arguments


# -- oracle on every shipped task ------------------------------------------------------------
def surfaces(gold: str, text: str) -> bool:
    """The gold answer appears in a tool result: as a whole number token, or as a phrase."""
    if re.fullmatch(r"-?\d+", gold):
        return gold in [tok.strip(".,;:()") for tok in text.split()]
    return normalize_answer(gold) in normalize_answer(text)


def test_shipped_tasks_have_splits_kinds_and_oracles():
    assert TASKS.splits() == ["test", "train", "val"]
    kinds = {t.data["kind"] for t in TASKS}
    assert kinds == {"arithmetic", "python", "lookup", "multihop", "lookup_compute"}
    assert all(t.data["oracle"] for t in TASKS)
    multihop = [t for t in TASKS if t.data["kind"] == "multihop"]
    assert all(len({c["arguments"].get("doc_id") for c in t.data["oracle"]} - {None}) >= 2 for t in multihop)


def test_oracle_solves_every_task_from_its_tools_results(env):
    """The oracle's calls must surface the answer in the last tool result (not just know it)."""
    for task in TASKS:
        obs, info = env.reset(seed=0, options={"task_id": task.task_id})
        while True:
            action = env.oracle_action()
            if action.startswith("<answer>"):
                last = obs["text"].rsplit("<tool_response>\n", 1)[1].split("\n</tool_response>")[0]
                assert not last.startswith("Error:"), (task.task_id, last)
                assert surfaces(task.data["answer"], last), (task.task_id, last)
            obs, reward, term, trunc, info = env.step(action)
            assert info["action_valid"], (task.task_id, info["action_error"])
            if term or trunc:
                break
        assert info["success"] and reward == 1.0, task.task_id
        assert info["num_tool_calls"] == len(task.data["oracle"])


def test_oracle_resumes_after_detours(env):
    start(env, "multihop-000")
    env.step(call("calculator", expression="1+1"))
    env.step(env.oracle_action())
    env.step(call("search", query="unrelated words"))
    for _ in range(10):
        _, reward, term, _, info = env.step(env.oracle_action())
        if term:
            break
    assert info["success"]


# -- user tools ------------------------------------------------------------------------------
@tool
def exchange(amount: float, currency: Literal["EUR", "USD"] = "EUR", round_to: int = 2) -> str:
    """Convert an amount of crowns into another currency.

    Args:
        amount: crowns to convert
        currency: the target currency
        round_to: decimals to keep
    """
    rate = {"EUR": 0.5, "USD": 0.25}[currency]
    return f"{round(amount * rate, round_to)} {currency}"


def test_tool_decorator_builds_schema_from_hints_and_docstring():
    fn = exchange.schema["function"]
    assert fn["name"] == "exchange"
    assert fn["description"] == "Convert an amount of crowns into another currency."
    assert fn["parameters"] == {
        "type": "object",
        "properties": {
            "amount": {"type": "number", "description": "crowns to convert"},
            "currency": {"type": "string", "enum": ["EUR", "USD"], "description": "the target currency", "default": "EUR"},
            "round_to": {"type": "integer", "description": "decimals to keep", "default": 2},
        },
        "required": ["amount"],
    }
    assert exchange({"amount": 10}) == "5.0 EUR"
    with pytest.raises(ToolError, match="must be one of"):
        exchange({"amount": 1, "currency": "GBP"})
    with pytest.raises(ToolError, match="must be number"):
        exchange({"amount": "1"})


def test_tool_decorator_rejects_untyped_functions():
    with pytest.raises(TypeError, match="needs a type hint"):
        tool(lambda x: x)
    with pytest.raises(TypeError, match="has no JSON schema"):
        @tool
        def f(x: set) -> str:
            """Nothing."""
            return ""


def test_user_tool_plugs_into_the_env():
    def word_count(text: str) -> int:
        """Count the words of a text."""
        return len(text.split())

    e = ToolUseEnv(tools=[exchange, word_count])
    _, info = start(e)
    assert '"name": "exchange"' in info["action_doc"] and '"name": "word_count"' in info["action_doc"]
    obs, *_ = e.step(call("exchange", amount=8, currency="USD") + call("word_count", text="a b c"))
    assert "2.0 USD" in obs["text"] and "<tool_response>\n3\n</tool_response>" in obs["text"]
    with pytest.raises(ValueError, match="two tools are named 'calculator'"):
        ToolUseEnv(tools=[tool(word_count, name="calculator")])


# -- tools -----------------------------------------------------------------------------------
@pytest.mark.parametrize("expr, value", [("2 * (3 + 4) ** 2", "98"), ("7 / 4", "1.75"), ("-3 // 2", "-2"),
                                         ("10 % 4", "2"), ("gcd(12, 18)", "6"), ("2 ** -1", "0.5")])
def test_calculator_values(expr, value):
    assert calculate(expr) == value


@pytest.mark.parametrize("expr, fragment", [("__import__('os')", "unsupported expression"),
                                            ("9 ** 9 ** 9", "too large"), ("1 +", "cannot parse"),
                                            ("'a' * 3", "only numbers"), ("(2).__class__", "unsupported")])
def test_calculator_refuses_non_arithmetic(expr, fragment):
    with pytest.raises(ToolError, match=fragment.replace("(", r"\(")):
        calculate(expr)


def test_search_ranks_the_named_entity_first():
    index = SearchIndex(load_corpus(asset_path("tooluse", "corpus.jsonl.gz")))
    for doc in index.docs[::15]:
        hits = index.search(doc.title.removeprefix("The "), k=3)
        assert doc.doc_id in [h.doc_id for h in hits]
    assert index.search("the of and", k=3) == []


# -- contract --------------------------------------------------------------------------------
def test_registered_and_passes_check_env():
    assert "stepgym/ToolUse-v0" in stepgym.list_envs()
    e = gymnasium.make("stepgym/ToolUse-v0")
    check_env(e.unwrapped, skip_render_check=True)
    e.close()


def test_same_seed_same_episode():
    def run():
        e = gymnasium.make("stepgym/ToolUse-v0").unwrapped
        e.action_space.seed(3)
        obs, info = e.reset(seed=7)
        out = [(obs["text"], info["state_key"])]
        for _ in range(6):
            obs, r, term, trunc, info = e.step(e.action_space.sample())
            out.append((obs["text"], r, info["state_key"]))
            if term or trunc:
                break
        return out
    assert run() == run()
