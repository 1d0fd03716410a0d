"""Rewards for tool-use episodes: answer exact match, token F1, format, and tool efficiency (OTC).

All are pure functions of strings and counts.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections import Counter
from fractions import Fraction

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, articles or extra spaces (SQuAD-style); numbers lose thousands commas.

    >>> normalize_answer("The  Quillon!")
    'quillon'
    >>> normalize_answer("23,418")
    '23418'
    """
    text = text.strip()
    if _NUMBER.match(text):
        return _number_text(text)
    text = text.lower()
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _number_text(text: str) -> str:
    value = Fraction(text.replace(",", ""))
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalized answers are equal (numbers compared exactly), else 0.0.

    >>> exact_match("1,487", "1487"), exact_match("1487.0", "1487"), exact_match("Velmora.", "velmora")
    (1.0, 1.0, 1.0)
    >>> exact_match("1488", "1487")
    0.0
    """
    return 1.0 if normalize_answer(prediction) == normalize_answer(gold) else 0.0


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalization.

    >>> token_f1("Oren Kalvast", "Oren Kalvast")
    1.0
    >>> round(token_f1("Oren", "Oren Kalvast"), 3)
    0.667
    >>> token_f1("", "Oren")
    0.0
    """
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def format_reward(completion: str) -> float:
    """1.0 for a well-formed turn: tool calls that are all JSON objects with a "name", or one answer.

    >>> format_reward('<tool_call>{"name": "search", "arguments": {"query": "x"}}</tool_call>')
    1.0
    >>> format_reward("<answer>42</answer>")
    1.0
    >>> format_reward('<tool_call>{"name": search}</tool_call>'), format_reward("it is 42")
    (0.0, 0.0)
    """
    calls = _CALL.findall(completion)
    answers = _ANSWER.findall(completion)
    if completion.count("<tool_call>") != len(calls) or completion.count("<answer>") != len(answers):
        return 0.0
    if answers:
        return 1.0 if len(answers) == 1 and not calls and answers[0].strip() else 0.0
    if not calls:
        return 0.0
    for block in calls:
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            return 0.0
        if not (isinstance(obj, dict) and isinstance(obj.get("name"), str)
                and isinstance(obj.get("arguments", {}), (dict, str))):
            return 0.0
    return 1.0


def otc_tool_efficiency(calls: int, optimal_calls: int, c: float = 1.0) -> float:
    """Tool-efficiency factor in (0, 1] in the spirit of OTC (Wang et al., 2025, "Acting Less is
    Reasoning More"): 1 at the reference number of calls, falling smoothly as calls grow.

    With m = `calls`, n = `optimal_calls`: n = 0 gives cos(m·π / (2m + c)) (1 at m = 0);
    n > 0 gives sin(f·π / (2n)) with f = 2mn / (m + n) for m > n. Unlike OTC, m <= n scores 1:
    our n is the oracle's plan, not the fewest calls a policy has shown, so fewer is not worse.

    >>> otc_tool_efficiency(4, 4), otc_tool_efficiency(2, 4), otc_tool_efficiency(0, 0)
    (1.0, 1.0, 1.0)
    >>> round(otc_tool_efficiency(8, 4), 3), round(otc_tool_efficiency(40, 4), 3)
    (0.866, 0.282)
    """
    if calls < 0 or optimal_calls < 0:
        raise ValueError(f"call counts must be >= 0, got calls={calls}, optimal_calls={optimal_calls}")
    if optimal_calls == 0:
        return math.cos(calls * math.pi / (2 * calls + c))
    if calls <= optimal_calls:
        return 1.0
    f = 2 * calls * optimal_calls / (calls + optimal_calls)
    return math.sin(f * math.pi / (2 * optimal_calls))


def otc_reward(prediction: str, gold: str, calls: int, optimal_calls: int, c: float = 1.0) -> float:
    """Exact match times the OTC efficiency factor: a wrong answer scores 0 however few calls it made.

    >>> otc_reward("42", "42", calls=2, optimal_calls=2), round(otc_reward("42", "42", 4, 2), 3)
    (1.0, 0.866)
    >>> otc_reward("41", "42", calls=1, optimal_calls=2)
    0.0
    """
    correct = exact_match(prediction, gold)
    return correct * otc_tool_efficiency(calls, optimal_calls, c) if correct else 0.0


def extract_answer(completion: str) -> str | None:
    """The text of the last <answer>...</answer>, stripped, or None.

    >>> extract_answer("so <answer> 7 </answer>")
    '7'
    """
    found = _ANSWER.findall(completion)
    return found[-1].strip() if found else None
