"""What every offline matching rule returns, and the geometry the rules share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepMatch:
    """One predicted step scored against its ground truth by a protocol's rule.

    `type_match` is the protocol's own notion of "the action type is right" (e.g. AITW counts a
    tap and a swipe as one type, Qwen's AndroidControl rule counts back and home as one);
    `correct` is its step-level verdict. `extras` holds the rule's finer flags and scores
    (grounding, text, F1, element), each a bool or a number in [0, 1].
    """

    gt_type: str
    pred_type: str
    type_match: bool
    correct: bool
    extras: dict[str, float | bool] = field(default_factory=dict)
    note: str = ""  # why a step failed in a way the flags do not say (unparsable, missing, ...)


Box = Sequence[float]  # [x1, y1, x2, y2]


def in_box(x: float, y: float, box: Box) -> bool:
    """True when (x, y) lies in the box, edges included."""
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def scale_box(box: Box, factor: float) -> list[float]:
    """The box scaled by `factor` about its centre."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * factor / 2, (box[3] - box[1]) * factor / 2
    return [cx - hw, cy - hh, cx + hw, cy + hh]


def distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance of two 2-D points."""
    return math.hypot(a[0] - b[0], a[1] - b[1])


def smallest_box_containing(x: float, y: float, boxes: Sequence[Box]) -> int | None:
    """Index of the smallest-area box containing (x, y), or None."""
    best, best_area = None, math.inf
    for i, b in enumerate(boxes):
        if in_box(x, y, b):
            area = (b[2] - b[0]) * (b[3] - b[1])
            if area < best_area:
                best, best_area = i, area
    return best


def missing(gt_type: str, note: str = "no prediction") -> StepMatch:
    """The verdict for a step that has no (usable) prediction: wrong on every count."""
    return StepMatch(gt_type=gt_type, pred_type="none", type_match=False, correct=False, note=note)
