"""Tool-use rewards: hand-computed cases (the module's doctests run too)."""

from __future__ import annotations

import doctest
import math

import pytest

import stepgym.rewards.tooluse as R


def test_doctests():
    failures, tried = doctest.testmod(R)
    assert tried > 10 and failures == 0


@pytest.mark.parametrize("pred, gold, expected", [
    ("1487", "1487", 1.0), (" 1,487 ", "1487", 1.0), ("1487.00", "1487", 1.0), ("-2", "-2", 1.0),
    ("2", "-2", 0.0), ("The Quillon", "Quillon", 1.0), ("quillon.", "The Quillon", 1.0),
    ("Oren  Kalvast", "oren kalvast", 1.0), ("Oren", "Oren Kalvast", 0.0), ("", "x", 0.0),
    ("0.5", "1/2", 0.0),  # a fraction string is text, not a number, in gold answers
])
def test_exact_match(pred, gold, expected):
    assert R.exact_match(pred, gold) == expected


def test_token_f1_hand_computed():
    # pred tokens: oren, kalvast, velmora; gold: oren, kalvast -> P = 2/3, R = 1, F1 = 0.8
    assert R.token_f1("Oren Kalvast, Velmora", "Oren Kalvast") == pytest.approx(0.8)
    assert R.token_f1("x b b", "b b c") == pytest.approx(2 / 3)
    assert R.token_f1("x", "y") == 0.0


@pytest.mark.parametrize("completion, expected", [
    ('<tool_call>{"name": "search", "arguments": {"query": "x"}}</tool_call>', 1.0),
    ('a <tool_call>{"name": "a", "arguments": {}}</tool_call><tool_call>{"name": "b"}</tool_call>', 1.0),
    ("<answer>42</answer>", 1.0),
    ("<answer> </answer>", 0.0),
    ("<answer>1</answer><answer>2</answer>", 0.0),
    ('<tool_call>{"name": "a", "arguments": {}}</tool_call><answer>1</answer>', 0.0),
    ('<tool_call>{"name": "a", "arguments": {}}', 0.0),
    ("<tool_call>[1, 2]</tool_call>", 0.0),
    ('<tool_call>{"name": 3}</tool_call>', 0.0),
    ("The answer is 42.", 0.0),
])
def test_format_reward(completion, expected):
    assert R.format_reward(completion) == expected


def test_otc_efficiency_shape():
    n = 4
    values = [R.otc_tool_efficiency(m, n) for m in range(0, 30)]
    assert values[: n + 1] == [1.0] * (n + 1)  # at or under the reference: full credit
    tail = values[n:]
    assert all(a > b for a, b in zip(tail, tail[1:], strict=False))  # each extra call costs
    assert values[2 * n] == pytest.approx(math.sin(2 * 2 * n * n / (3 * n) * math.pi / (2 * n)))
    # no tool needed: cos(m*pi/(2m+c)) falls from 1 towards 0
    assert R.otc_tool_efficiency(0, 0) == 1.0
    assert R.otc_tool_efficiency(1, 0) == pytest.approx(math.cos(math.pi / 3))
    with pytest.raises(ValueError, match="call counts must be >= 0"):
        R.otc_tool_efficiency(-1, 2)


def test_otc_reward_needs_a_correct_answer():
    assert R.otc_reward("7", "7", calls=2, optimal_calls=2) == 1.0
    assert R.otc_reward("8", "7", calls=0, optimal_calls=2) == 0.0
    assert 0 < R.otc_reward("7", "7", calls=6, optimal_calls=2) < R.otc_reward("7", "7", calls=3, optimal_calls=2) < 1


def test_extract_answer():
    assert R.extract_answer("<answer>a</answer> then <answer> b </answer>") == "b"
    assert R.extract_answer("none") is None
