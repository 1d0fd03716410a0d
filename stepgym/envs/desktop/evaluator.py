"""OSWorld-shaped evaluators over the desktop's app state (a JSON snapshot, never pixels).

    "evaluator": {
      "func": "check_include_exclude" | [..],        # metric names from stepgym.rewards.desktop
      "conj": "and" | "or",                          # how several metrics combine (default "and")
      "result": {"type": "vfs_file", "path": ...} | [..],
      "expected": {"type": "rule", "rules": {...}} | [..],
      "options": {...} | [..],
      "postconfig": [{"type": ..., "parameters": {...}}]   # config steps run before scoring
    }
    "func": "infeasible"  -> 1 iff the agent's last action is FAIL
"""

from __future__ import annotations

from typing import Any

from stepgym.rewards.desktop import METRICS, combine, infeasible


def _walk(state: dict, dotted: str) -> Any:
    node: Any = state
    for part in dotted.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _mail(state: dict, **where: Any) -> list[dict]:
    return [m for m in state["mail"]["messages"] if all(m.get(k) == v for k, v in where.items())]


def get(spec: dict[str, Any], state: dict[str, Any]) -> Any:
    """The value a getter spec names in a desktop state snapshot (ValueError for unknown types)."""
    kind = spec.get("type")
    fs = state["fs"]
    if kind == "rule":
        return spec.get("rules", {})
    if kind == "vfs_file":
        node = fs.get(spec["path"])
        return node["content"] if node and node["type"] == "file" else None
    if kind == "vfs_type":
        node = fs.get(spec["path"])
        return node["type"] if node else None
    if kind == "vfs_listing":
        d = spec["path"].rstrip("/")
        return sorted(p[len(d) + 1:] for p in fs if p.startswith(d + "/") and "/" not in p[len(d) + 1:])
    if kind == "sheet_cell":
        return state["sheet"]["values"].get(spec["cell"], "")
    if kind == "settings":
        return state["settings"].get(spec["key"])
    if kind == "editor":
        return state["editor"].get(spec.get("field", "text"))
    if kind == "mail_sent":
        return [{k: m[k] for k in ("to", "subject", "body")} for m in _mail(state, folder="sent")]
    if kind == "mail_folder":
        return [m["subject"] for m in _mail(state, folder=spec["folder"])]
    if kind == "mail_message":
        found = _mail(state, subject=spec["subject"])
        return found[0].get(spec["field"]) if found else None
    if kind == "open_windows":
        return sorted(w["app"] for w in state["windows"] if not w["min"])
    if kind == "window":
        w = next((w for w in state["windows"] if w["app"] == spec["app"]), None)
        return None if w is None else (w.get(spec["field"]) if "field" in spec else True)
    if kind == "state_path":
        return _walk(state, spec["path"])
    raise ValueError(
        f"unknown getter type {kind!r}; expected one of rule, vfs_file, vfs_type, vfs_listing, sheet_cell, "
        "settings, editor, mail_sent, mail_folder, mail_message, open_windows, window, state_path"
    )


def _as_list(x: Any, n: int) -> list:
    if isinstance(x, list):
        if len(x) != n:
            raise ValueError(f"evaluator lists must have one entry per metric ({n}), got {len(x)}")
        return x
    return [x] * n


def evaluate(evaluator: dict[str, Any], state: dict[str, Any], last_action: str | None) -> float:
    """The episode's score in [0, 1] under OSWorld's rules (a final FAIL scores 0 on feasible tasks)."""
    func = evaluator["func"]
    if func == "infeasible":
        return infeasible(last_action)
    if last_action == "FAIL":
        return 0.0
    funcs = func if isinstance(func, list) else [func]
    n = len(funcs)
    results = _as_list(evaluator.get("result"), n)
    expected = _as_list(evaluator.get("expected"), n)
    options = _as_list(evaluator.get("options") or {}, n)
    scores = []
    for f, r, e, o in zip(funcs, results, expected, options, strict=True):
        if f not in METRICS:
            raise ValueError(f"unknown metric {f!r}; expected one of {sorted(METRICS)} or 'infeasible'")
        scores.append(float(METRICS[f](get(r, state) if r else None, get(e, state) if e else None, **(o or {}))))
    return combine(scores, evaluator.get("conj", "and"))


def validate(task_id: str, evaluator: Any) -> None:
    """Raise ValueError naming the task when its evaluator is malformed (checked at load time)."""
    if not isinstance(evaluator, dict) or "func" not in evaluator:
        raise ValueError(f"task {task_id!r}: 'evaluator' must be a dict with 'func', got {evaluator!r:.80}")
    funcs = evaluator["func"] if isinstance(evaluator["func"], list) else [evaluator["func"]]
    for f in funcs:
        if f != "infeasible" and f not in METRICS:
            raise ValueError(f"task {task_id!r}: unknown metric {f!r}; expected one of {sorted(METRICS)}")
    if evaluator.get("conj", "and") not in ("and", "or"):
        raise ValueError(f"task {task_id!r}: conj must be 'and' or 'or', got {evaluator['conj']!r}")
