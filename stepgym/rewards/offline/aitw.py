"""AITW's action matching (`check_actions_match` of google-research `android_in_the_wild/action_matching.py`).

Actions are dicts in AITW's own vocabulary: `action_type` (an `ActionType` int), `touch_yx` and
`lift_yx` ((y, x) normalised to [0, 1]) and `typed_text`. The ground truth also carries the
screen's `annotation_positions`: (y, x, height, width) boxes, normalised.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepgym.rewards.offline.base import StepMatch, missing

#: `android_in_the_wild/action_type.py`
ACTION_TYPES = {3: "TYPE", 4: "DUAL_POINT", 5: "PRESS_BACK", 6: "PRESS_HOME", 7: "PRESS_ENTER",
                10: "STATUS_TASK_COMPLETE", 11: "STATUS_TASK_IMPOSSIBLE"}
DUAL_POINT = 4


@dataclass(frozen=True)
class AITWParams:
    """The thresholds of `check_actions_match`, defaults as released."""

    tap_distance_threshold: float = 0.14
    """Two taps match within this Euclidean distance in normalised (y, x) (`_TAP_DISTANCE_THRESHOLD`)."""
    annotation_height_augment_fraction: float = 1.4
    """Boxes grow by this fraction of their height (1.4 = 2.4x in all), centred."""
    annotation_width_augment_fraction: float = 1.4
    """Boxes grow by this fraction of their width."""
    swipe_distance_threshold: float = 0.04
    """A dual point whose touch-lift distance is at most this is a tap (`_SWIPE_DISTANCE_THRESHOLD`)."""
    no_annotations: str = "wrong"
    """A screen without annotation boxes: the released code reduces an empty array (`jnp.max`),
    which raises, and its users (SeeClick, Auto-UI) count the step wrong, type included:
    "wrong". "distance" compares taps by distance alone."""

    def __post_init__(self) -> None:
        if self.no_annotations not in ("wrong", "distance"):
            raise ValueError(f"no_annotations must be 'wrong' or 'distance', got {self.no_annotations!r}")


def is_tap(touch_yx: Sequence[float], lift_yx: Sequence[float], params: AITWParams = AITWParams()) -> bool:
    """True when a dual point's touch and lift are within `swipe_distance_threshold`."""
    return math.dist(touch_yx, lift_yx) <= params.swipe_distance_threshold


def enlarge(positions: Sequence[Sequence[float]], params: AITWParams) -> list[list[float]]:
    """The released box enlargement: grow h, w by the fractions, shift top-left by half the growth,
    clip top, left at 0 and h, w at 1 (the far edge is not clipped again)."""
    out = []
    for y, x, h, w in positions:
        dh, dw = params.annotation_height_augment_fraction * h, params.annotation_width_augment_fraction * w
        out.append([max(0.0, y - dh / 2), max(0.0, x - dw / 2), min(1.0, h + dh), min(1.0, w + dw)])
    return out


def _in(yx: Sequence[float], box: Sequence[float]) -> bool:
    top, left, h, w = box
    return top <= yx[0] <= top + h and left <= yx[1] <= left + w


def taps_match(a: Sequence[float], b: Sequence[float], positions: Sequence[Sequence[float]],
               params: AITWParams = AITWParams()) -> bool:
    """Two tap points match: both in one enlarged box, or within the distance threshold."""
    both_in_box = any(_in(a, box) and _in(b, box) for box in enlarge(positions, params))
    return both_in_box or math.dist(a, b) <= params.tap_distance_threshold


def main_axis(touch_yx: Sequence[float], lift_yx: Sequence[float]) -> int:
    """0 (y) or 1 (x): the axis of the larger movement; a tie picks y (numpy argmax)."""
    return 0 if abs(lift_yx[0] - touch_yx[0]) >= abs(lift_yx[1] - touch_yx[1]) else 1


def type_name(action: Mapping[str, Any], params: AITWParams = AITWParams()) -> str:
    """AITW's name for an action's type, "TAP"/"SWIPE" for dual points."""
    t = action.get("action_type")
    if t == DUAL_POINT:
        return "TAP" if is_tap(action["touch_yx"], action["lift_yx"], params) else "SWIPE"
    return ACTION_TYPES.get(t, f"UNKNOWN_{t}") if isinstance(t, int) else "INVALID"


def match(pred: Mapping[str, Any] | None, gt: Mapping[str, Any], params: AITWParams = AITWParams()) -> StepMatch:
    """`check_actions_match(pred, gt)`, plus SeeClick's type accuracy (int types equal).

    `pred=None` (no or unusable prediction) is wrong. TYPE's text is not compared (as released);
    `extras["text_match"]` gives SeeClick's lower-cased containment on gt TYPE steps.
    """
    gt_name = type_name(gt, params)
    if pred is None:
        return missing(gt_name)
    try:
        p_type = int(pred["action_type"])
        p_touch, p_lift = [float(v) for v in pred.get("touch_yx", (-1, -1))], [float(v) for v in pred.get("lift_yx", (-1, -1))]
        if len(p_touch) != 2 or len(p_lift) != 2 or not all(map(math.isfinite, p_touch + p_lift)):
            raise ValueError("touch_yx / lift_yx need two finite numbers")
    except (KeyError, TypeError, ValueError) as exc:
        return missing(gt_name, f"unusable prediction: {exc}")
    g_type = int(gt["action_type"])
    positions = gt.get("annotation_positions") or []
    pred_name = type_name({"action_type": p_type, "touch_yx": p_touch, "lift_yx": p_lift}, params)
    type_match = p_type == g_type
    extras: dict[str, float | bool] = {}
    if g_type == 3:
        p_text = str(pred.get("typed_text", "") if p_type == 3 else "").lower()
        g_text = str(gt.get("typed_text", "")).lower()
        extras["text_match"] = p_text in g_text or g_text in p_text
    if not positions and params.no_annotations == "wrong":
        # SeeClick's aitw_test.py counts type and text inside the same try-block: they fail too
        return StepMatch(gt_name, pred_name, False, False, {k: False for k in extras},
                         note="screen has no annotation boxes: the released matcher fails on it")
    if p_type != DUAL_POINT or g_type != DUAL_POINT:
        correct = type_match
    else:
        g_touch, g_lift = gt["touch_yx"], gt["lift_yx"]
        p_tap, g_tap = is_tap(p_touch, p_lift, params), is_tap(g_touch, g_lift, params)
        if p_tap != g_tap:
            correct = False
        elif p_tap:
            correct = taps_match(p_touch, g_touch, positions, params)
        else:
            correct = main_axis(p_touch, p_lift) == main_axis(g_touch, g_lift)
    return StepMatch(gt_name, pred_name, type_match, bool(correct), extras)
