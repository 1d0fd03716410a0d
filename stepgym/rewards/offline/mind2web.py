"""Mind2Web step scoring: MindAct's official metric and SeeClick's screenshot convention.

The ground truth of a step: `op` (CLICK, TYPE or SELECT; HOVER and ENTER are stored as CLICK),
`original_op`, `value`, the positive candidates' `pos_ids` (backend_node_id) with their ranker
`pos_ranks` (None when `scores_all_data.pkl` was not given) and the target's `bbox`
[x, y, width, height] in page pixels (None when not visible). A prediction: `element`
(backend_node_id or None), `op`, `value` and `point` ([x, y] page pixels or None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepgym.rewards.offline.base import StepMatch, missing
from stepgym.rewards.offline.text import token_set_f1

#: SeeClick's action ids: `action2step` maps CLICK, HOVER and ENTER to 4, SELECT to 2, TYPE to 3
SEECLICK_IDS = {"CLICK": 4, "HOVER": 4, "ENTER": 4, "SELECT": 2, "TYPE": 3}


@dataclass(frozen=True)
class MindActParams:
    """MindAct's `src/action_prediction/metric.py`, defaults as released."""

    top_k: int = 50
    """Positive candidates count only when the ranker put them below this rank (`rank < top_k`);
    without ranks every positive counts (say so when reporting)."""
    lowercase: bool = False
    """Operation F1 is case-sensitive as released."""


@dataclass(frozen=True)
class SeeClickParams:
    """SeeClick's `agent_tasks/mind2web_test.py`, defaults as released."""

    lowercase_values: bool = True
    """Values are lower-cased before the F1."""
    click_value_ignored: bool = True
    """CLICK's value takes no part in the F1 (only TYPE and SELECT append theirs)."""


def _op(value: Any) -> str:
    return str(value or "").strip().upper()


def mindact_action_string(op: str, value: str) -> str:
    """MindAct's action string: the op, then the value unless the op is a CLICK of the ground truth."""
    return f"{op} {value}".strip()


def match_mindact(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], params: MindActParams = MindActParams()) -> StepMatch:
    """Element accuracy, operation F1 and step success of one step (MindAct)."""
    g_op = _op(gt.get("op"))
    ranks = gt.get("pos_ranks")
    pos_ids = [str(i) for i, r in zip(gt.get("pos_ids", []), ranks or [None] * len(gt.get("pos_ids", [])))
               if ranks is None or (r is not None and r < params.top_k)]
    if pred is None:
        return missing(g_op)
    p_op = _op(pred.get("op"))
    if not pos_ids:  # the target was not among the kept candidates: the step counts 0 everywhere
        return StepMatch(g_op, p_op, p_op == g_op, False, {"element": False, "op_f1": 0.0},
                         note=f"no positive candidate within top {params.top_k}")
    element = pred.get("element") is not None and str(pred.get("element")) in pos_ids
    target = g_op if g_op == "CLICK" else mindact_action_string(g_op, str(gt.get("value", "")))
    guess = mindact_action_string(p_op, str(pred.get("value") or ""))
    f1 = token_set_f1(guess, target, lowercase=params.lowercase)
    return StepMatch(g_op, p_op, p_op == g_op, bool(element and f1 == 1.0), {"element": element, "op_f1": f1})


def _seeclick_string(op_id: int, value: str, params: SeeClickParams) -> str:
    s = str(op_id)
    if op_id in (2, 3) or not params.click_value_ignored:
        s += " " + (value.lower() if params.lowercase_values else value)
    return s


def match_seeclick(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], params: SeeClickParams = SeeClickParams()) -> StepMatch:
    """SeeClick's element (point in the gt box), operation F1 and step success of one step."""
    g_id = SEECLICK_IDS.get(_op(gt.get("original_op") or gt.get("op")), 4)
    g_name = {4: "CLICK", 2: "SELECT", 3: "TYPE"}[g_id]
    if pred is None:
        return missing(g_name)
    p_id = SEECLICK_IDS.get(_op(pred.get("op")))
    p_name = {4: "CLICK", 2: "SELECT", 3: "TYPE"}.get(p_id, _op(pred.get("op")) or "INVALID")
    box = gt.get("bbox")
    point = pred.get("point")
    try:
        px, py = float(point[0]), float(point[1])
        if not (math.isfinite(px) and math.isfinite(py)):
            raise ValueError
    except (TypeError, ValueError, IndexError):
        # SeeClick's try-block: an unreadable prediction keeps Ele_match False and F1 0
        return StepMatch(g_name, p_name, p_id == g_id, False, {"element": False, "op_f1": 0.0},
                         note="prediction has no usable point")
    element = bool(box) and box[0] <= px <= box[0] + box[2] and box[1] <= py <= box[1] + box[3]
    if p_id is None:
        f1 = 0.0
    else:
        f1 = token_set_f1(_seeclick_string(p_id, str(pred.get("value") or ""), params),
                          _seeclick_string(g_id, str(gt.get("value") or ""), params))
    return StepMatch(g_name, p_name, p_id == g_id, bool(element and f1 == 1.0), {"element": element, "op_f1": f1})
