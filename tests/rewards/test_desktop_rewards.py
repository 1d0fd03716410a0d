"""The desktop evaluator metrics and OSWorld's conj semantics, on hand-made cases."""

import pytest

from stepgym.envs.desktop.evaluator import evaluate, get
from stepgym.rewards import desktop as M


def test_combine_follows_osworld_and_or():
    assert M.combine([1.0, 0.5], "and") == 0.75  # no zero: the mean
    assert M.combine([1.0, 0.0, 1.0], "and") == 0.0  # any zero: zero
    assert M.combine([0.0, 0.5], "or") == 0.5  # no one: the max
    assert M.combine([0.0, 1.0], "or") == 1.0
    with pytest.raises(ValueError, match="conj must be 'and' or 'or'"):
        M.combine([1.0], "xor")


@pytest.mark.parametrize(("metric", "result", "rules", "options", "want"), [
    ("exact_match", "dark", {"expected": "dark"}, {}, 1.0),
    ("exact_match", None, {"expected": None}, {}, 1.0),
    ("exact_match", "light", {"expected": "dark"}, {}, 0.0),
    ("compare_text", "a\nb  \n", {"expected": "a\nb"}, {}, 1.0),
    ("compare_text", "a\nb\n", {"expected": "a\nc"}, {}, 0.0),
    ("compare_text", None, {"expected": ""}, {}, 0.0),
    ("check_include_exclude", "review forecast", {"include": ["forecast"], "exclude": ["budget"]}, {}, 1.0),
    ("check_include_exclude", "review budget", {"include": ["review"], "exclude": ["budget"]}, {}, 0.0),
    ("compare_number", 576.67, {"expected": 576.6667}, {"tol": 0.01}, 1.0),
    ("compare_number", "x", {"expected": 1}, {}, 0.0),
    ("compare_number", 550, {"expected": 500}, {"op": ">="}, 1.0),
    ("compare_number", 450, {"expected": 500}, {"op": ">="}, 0.0),
    ("check_list_equal", ["b", "a"], {"expected": ["a", "b"]}, {}, 1.0),
    ("check_list_equal", ["b", "a"], {"expected": ["a", "b"]}, {"ordered": True}, 0.0),
    ("check_list_contains", ["mail", "settings", "files"], {"include": ["mail", "settings"]}, {}, 1.0),
    ("check_list_contains", ["mail"], {"include": ["mail"], "exclude": ["mail"]}, {}, 0.0),
    ("check_csv_cells", "Item,Cost\nTotal,1730.0\n", {"cells": {"A2": "Total", "B2": 1730}}, {}, 1.0),
    ("check_csv_cells", "Item,Cost\nTotal,1729\n", {"cells": {"B2": 1730}}, {}, 0.0),
    ("check_mail_sent", [{"to": "Bob@desk.local", "subject": "Report", "body": "The report is attached."}],
     {"to": "bob@desk.local", "subject": "Report", "body_include": ["report is attached"]}, {}, 1.0),
    ("check_mail_sent", [{"to": "bob@desk.local", "subject": "Other", "body": ""}],
     {"to": "bob@desk.local", "subject": "Report"}, {}, 0.0),
    ("fuzzy_match", "Hello world", {"expected": "Hello, world"}, {"threshold": 0.9}, 1.0),
])
def test_metrics(metric, result, rules, options, want):
    assert M.METRICS[metric](result, rules, **options) == want


def test_metric_without_needed_rule_names_it():
    with pytest.raises(ValueError, match=r"rules\['expected'\]"):
        M.exact_match("x", {})


STATE = {
    "fs": {"/home/user/a.txt": {"type": "file", "content": "hi"}, "/home/user/d": {"type": "dir"},
           "/home/user/d/x.txt": {"type": "file", "content": ""}},
    "settings": {"theme": "dark", "wifi": False},
    "windows": [{"app": "files", "min": False, "x": 10}, {"app": "mail", "min": True, "x": 0}],
    "sheet": {"values": {"B5": 1730}, "cells": {"B5": "=SUM(B2:B4)"}},
    "editor": {"path": "/home/user/a.txt", "text": "hi"},
    "mail": {"messages": [{"folder": "sent", "to": "bob@desk.local", "subject": "S", "body": "B", "starred": False}]},
}


def test_getters_read_the_state():
    assert get({"type": "vfs_file", "path": "/home/user/a.txt"}, STATE) == "hi"
    assert get({"type": "vfs_type", "path": "/home/user/d"}, STATE) == "dir"
    assert get({"type": "vfs_type", "path": "/nope"}, STATE) is None
    assert get({"type": "vfs_listing", "path": "/home/user"}, STATE) == ["a.txt", "d"]
    assert get({"type": "open_windows"}, STATE) == ["files"]
    assert get({"type": "window", "app": "files", "field": "x"}, STATE) == 10
    assert get({"type": "sheet_cell", "cell": "B5"}, STATE) == 1730
    assert get({"type": "state_path", "path": "sheet.cells.B5"}, STATE) == "=SUM(B2:B4)"
    assert get({"type": "mail_sent"}, STATE) == [{"to": "bob@desk.local", "subject": "S", "body": "B"}]
    with pytest.raises(ValueError, match="unknown getter type 'pixels'"):
        get({"type": "pixels"}, STATE)


def test_evaluate_infeasible_and_fail_rules():
    infeasible = {"func": "infeasible"}
    assert evaluate(infeasible, STATE, "FAIL") == 1.0
    assert evaluate(infeasible, STATE, "DONE") == 0.0
    feasible = {"func": "exact_match", "result": {"type": "settings", "key": "theme"},
                "expected": {"type": "rule", "rules": {"expected": "dark"}}}
    assert evaluate(feasible, STATE, "DONE") == 1.0
    assert evaluate(feasible, STATE, "FAIL") == 0.0  # giving up on a feasible task scores 0


def test_evaluate_lists_with_conj():
    ev = {"func": ["exact_match", "exact_match"], "conj": "or",
          "result": [{"type": "settings", "key": "theme"}, {"type": "settings", "key": "wifi"}],
          "expected": [{"type": "rule", "rules": {"expected": "light"}}, {"type": "rule", "rules": {"expected": False}}]}
    assert evaluate(ev, STATE, "DONE") == 1.0
    assert evaluate({**ev, "conj": "and"}, STATE, "DONE") == 0.0
