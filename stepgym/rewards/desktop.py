"""OSWorld-style evaluator metrics for the desktop env: pure functions `metric(result, rules, **options) -> float`.

`result` comes from a result getter (a file's text, a cell value, a setting...), `rules`
from an expected getter (usually `{"type": "rule", "rules": {...}}`). Several metrics
combine with `combine(scores, conj)`: "and" gives 0 if any score is 0, else their mean;
"or" gives 1 if any score is 1, else their max (OSWorld's semantics).

>>> exact_match("dark", {"expected": "dark"})
1.0
>>> check_include_exclude("forecast review", {"include": ["forecast"], "exclude": ["budget"]})
1.0
>>> combine([1.0, 0.0], "and"), combine([1.0, 0.0], "or")
(0.0, 1.0)
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Sequence
from typing import Any


def _rule(rules: dict | None, key: str) -> Any:
    if not isinstance(rules, dict) or key not in rules:
        raise ValueError(f"this metric needs rules[{key!r}], got rules={rules!r}")
    return rules[key]


def exact_match(result: Any, rules: dict | None, **_: Any) -> float:
    """1.0 when `result == rules["expected"]` (JSON values: str, number, bool, null, list, dict)."""
    return float(result == _rule(rules, "expected"))


def compare_text(result: Any, rules: dict | None, strip: bool = True, ignore_case: bool = False, **_: Any) -> float:
    """1.0 when the text equals `rules["expected"]` (trailing whitespace per line ignored with `strip`)."""
    if not isinstance(result, str):
        return 0.0
    expected = str(_rule(rules, "expected"))

    def norm(s: str) -> str:
        if strip:
            s = "\n".join(line.rstrip() for line in s.strip().splitlines())
        return s.lower() if ignore_case else s

    return float(norm(result) == norm(expected))


def fuzzy_match(result: Any, rules: dict | None, threshold: float = 0.9, **_: Any) -> float:
    """1.0 when difflib's similarity ratio to `rules["expected"]` is at least `threshold`."""
    if not isinstance(result, str):
        return 0.0
    ratio = difflib.SequenceMatcher(None, result.strip(), str(_rule(rules, "expected")).strip()).ratio()
    return float(ratio >= threshold)


def check_include_exclude(result: Any, rules: dict | None, ignore_case: bool = False, **_: Any) -> float:
    """1.0 when the text contains every `rules["include"]` string and none of `rules["exclude"]`."""
    if not isinstance(result, str):
        return 0.0
    text = result.lower() if ignore_case else result

    def norm(s: str) -> str:
        return s.lower() if ignore_case else s

    include = [norm(s) for s in (rules or {}).get("include", [])]
    exclude = [norm(s) for s in (rules or {}).get("exclude", [])]
    return float(all(s in text for s in include) and not any(s in text for s in exclude))


def compare_number(result: Any, rules: dict | None, tol: float = 1e-6, op: str = "==", **_: Any) -> float:
    """1.0 when `result op rules["expected"]` holds for numbers (`==` within `tol`, or <, <=, >, >=)."""
    expected = float(_rule(rules, "expected"))
    try:
        value = float(result)
    except (TypeError, ValueError):
        return 0.0
    ops: dict[str, Callable[[float, float], bool]] = {
        "==": lambda a, b: abs(a - b) <= tol, ">=": lambda a, b: a >= b - tol, "<=": lambda a, b: a <= b + tol,
        ">": lambda a, b: a > b, "<": lambda a, b: a < b,
    }
    if op not in ops:
        raise ValueError(f"op must be one of {sorted(ops)}, got {op!r}")
    return float(ops[op](value, expected))


def check_list_equal(result: Any, rules: dict | None, ordered: bool = False, **_: Any) -> float:
    """1.0 when the list equals `rules["expected"]` (as a multiset unless `ordered`)."""
    if not isinstance(result, list):
        return 0.0
    expected = list(_rule(rules, "expected"))
    if ordered:
        return float(result == expected)
    return float(sorted(map(str, result)) == sorted(map(str, expected)))


def check_list_contains(result: Any, rules: dict | None, **_: Any) -> float:
    """1.0 when the list holds every item of `rules["include"]` and none of `rules.get("exclude", [])`."""
    if not isinstance(result, list):
        return 0.0
    return float(all(x in result for x in (rules or {}).get("include", []))
                 and not any(x in result for x in (rules or {}).get("exclude", [])))


def _csv_cells(text: str) -> dict[str, str]:
    cells = {}
    for r, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        for c, value in enumerate(row):
            if c < 26 and value != "":
                cells[f"{chr(65 + c)}{r}"] = value
    return cells


def _same_cell(value: str, expected: Any, tol: float) -> bool:
    try:
        return abs(float(value) - float(expected)) <= tol
    except (TypeError, ValueError):
        return value.strip() == str(expected).strip()


def check_csv_cells(result: Any, rules: dict | None, tol: float = 1e-6, **_: Any) -> float:
    """1.0 when a CSV text has `rules["cells"]` ({"B5": "1730", ...}; numbers compared within `tol`)."""
    if not isinstance(result, str):
        return 0.0
    cells = _csv_cells(result)
    expected = _rule(rules, "cells")
    return float(all(_same_cell(cells.get(ref, ""), want, tol) if want is not None else ref not in cells
                     for ref, want in expected.items()))


def check_mail_sent(result: Any, rules: dict | None, **_: Any) -> float:
    """1.0 when some message in `result` (a list of mails) goes to `rules["to"]`, has the subject
    `rules["subject"]` (when given) and a body containing every `rules["body_include"]` string."""
    if not isinstance(result, list):
        return 0.0
    to = str(_rule(rules, "to")).strip().lower()
    for m in result:
        if not isinstance(m, dict) or str(m.get("to", "")).strip().lower() != to:
            continue
        if "subject" in rules and str(m.get("subject", "")).strip() != rules["subject"]:
            continue
        body = str(m.get("body", "")).lower()
        if all(s.lower() in body for s in rules.get("body_include", [])):
            return 1.0
    return 0.0


def infeasible(last_action: str | None) -> float:
    """OSWorld's infeasible-task score: 1.0 iff the agent's last action was FAIL."""
    return float(last_action == "FAIL")


METRICS: dict[str, Callable[..., float]] = {
    f.__name__: f for f in (exact_match, compare_text, fuzzy_match, check_include_exclude, compare_number,
                            check_list_equal, check_list_contains, check_csv_cells, check_mail_sent)
}


def combine(scores: Sequence[float], conj: str = "and") -> float:
    """One score from several metrics: "and" -> 0 if any is 0 else the mean; "or" -> 1 if any is 1 else the max."""
    if not scores:
        raise ValueError("combine needs at least one score")
    if conj == "and":
        return 0.0 if any(s == 0 for s in scores) else float(sum(scores) / len(scores))
    if conj == "or":
        return 1.0 if any(s == 1 for s in scores) else float(max(scores))
    raise ValueError(f"conj must be 'and' or 'or', got {conj!r}")
