"""GUI-Odyssey's action matching (OpenGVLab/GUI-Odyssey `src/eval_mm/GUIOdyssey_action_matching.py`).

Actions are `(action, info)` pairs in the evaluation vocabulary that `data/format_converter.py`
produces: CLICK / LONG_PRESS with info (x, y) on the 0-1000 grid, SCROLL with a finger
direction (UP/DOWN/LEFT/RIGHT), TYPE with the text, and PRESS_HOME, PRESS_BACK, PRESS_RECENT,
COMPLETE, IMPOSSIBLE with empty info. The ground truth also carries `sam2_bbox`
[x1, y1, x2, y2] on the same grid ([] for actions that are not clicks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stepgym.rewards.offline.base import StepMatch, missing
from stepgym.rewards.offline.text import anls

ACTIONS = ("CLICK", "LONG_PRESS", "SCROLL", "TYPE", "PRESS_HOME", "PRESS_BACK", "PRESS_RECENT",
           "COMPLETE", "IMPOSSIBLE")


@dataclass(frozen=True)
class OdysseyParams:
    """The released thresholds and the two behaviours around them."""

    text_anls_threshold: float = 0.5
    """TYPE is right on containment either way, or ANLS at least this (`TEXT_ANLS_THRESHOLD`)."""
    click_coord_threshold: float = 0.14
    """A click is right in the SAM2 box, or within this distance / 1000 (`CLICK_COORD_THRESHOLD`)."""
    use_sam2_bbox: bool = True
    """Use the gt `sam2_bbox` (v2 data); False scores by distance only (v1, and OS-Atlas' script)."""
    typing_aliases: tuple[str, ...] = ("TYPE", "TEXT")
    """Action names read as typing: the data spells it TEXT, the evaluator TYPE."""
    unusable_counts_type_right: bool = True
    """The released `action_type` metric counts every step whose info is not `action_fail`, so a
    prediction that could not be scored ('invalid') counts as type-right (a quirk, kept)."""


def normalise(action: Any, aliases: tuple[str, ...] = ("TYPE", "TEXT")) -> str:
    """The action name, stripped and upper-cased, with typing aliases folded into TYPE."""
    name = str(action or "").strip().upper()
    return "TYPE" if name in aliases else name


def _point(info: Any) -> tuple[float, float]:
    if isinstance(info, (list, tuple)) and len(info) == 1 and isinstance(info[0], (list, tuple)):
        info = info[0]  # the data's [[x, y]]
    x, y = float(info[0]), float(info[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError("non-finite point")
    return x, y


def text_matching(gt: str, pred: str, params: OdysseyParams = OdysseyParams()) -> bool:
    """Containment either way (so an empty prediction matches), else ANLS >= threshold."""
    gt, pred = gt.strip(), pred.strip()
    return gt in pred or pred in gt or anls(gt, pred) >= params.text_anls_threshold


def match(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], params: OdysseyParams = OdysseyParams()) -> StepMatch:
    """`action_matching(pred, gt)`; `extras["outcome"]`-like flags say which branch decided."""
    g_action = normalise(gt.get("action"), params.typing_aliases)
    if pred is None:
        return missing(g_action)
    p_action = normalise(pred.get("action"), params.typing_aliases)
    if p_action != g_action:
        return StepMatch(g_action, p_action, False, False, {"action_fail": True})
    p_info, g_info = pred.get("info"), gt.get("info")
    try:
        if g_action == "TYPE":
            ok = text_matching(str(g_info or ""), str(p_info or ""), params)
            return StepMatch(g_action, p_action, True, ok, {"text_scored": True, "text_correct": ok})
        if g_action == "SCROLL":
            ok = str(g_info).strip().lower() == str(p_info).strip().lower()
            return StepMatch(g_action, p_action, True, ok)
        if g_action in ("CLICK", "LONG_PRESS"):
            px, py = _point(p_info)
            gx, gy = _point(g_info)
            box = gt.get("sam2_bbox") or []
            in_box = params.use_sam2_bbox and len(box) == 4 and box[0] <= px <= box[2] and box[1] <= py <= box[3]
            near = math.hypot((px - gx) / 1000, (py - gy) / 1000) <= params.click_coord_threshold
            return StepMatch(g_action, p_action, True, bool(in_box or near), {"in_sam2_box": bool(in_box)})
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        return StepMatch(g_action, p_action, params.unusable_counts_type_right, False, {"invalid": True},
                         note=f"unusable prediction info: {exc}")
    return StepMatch(g_action, p_action, True, True)
