"""The code half of a protocol card: how one benchmark's steps are keyed, predicted, matched and drawn.

Each benchmark module subclasses `Adapter`. Ground truth and predictions stay in the benchmark's
own vocabulary ("native" dicts); policies speak stepgym's Mobile-v0 / Desktop-v0 JSON, which
`from_policy` maps onto the native vocabulary (and `gt_policy_text` back, for histories).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stepgym.envs.core import ActionError
from stepgym.envs.mobile import actions as mobile_actions
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.schema import Step
from stepgym.rewards.offline.base import StepMatch

Native = dict[str, Any]
Row = Mapping[str, Any]  # one scored step as report.json's per_step holds it


class PredictionError(ValueError):
    """A predictions-file line that does not follow the benchmark's schema."""


@dataclass(frozen=True)
class MetricSpec:
    """One reported metric: a ratio of per-unit sums, averaged as the protocol says.

    `over="steps"`: each scored step is a unit with value `value(row)` and weight `weight(row)`
    (weight 0 leaves it out). `over="episodes"`: each episode is a unit whose value is 1 when
    every step is correct, with weight `episode_weight(rows)`. `average`: "micro" (all units
    pooled), "group" (mean over the groups' ratios: AITW subsets, GUI-Odyssey categories),
    "episode" (mean over episodes' ratios: Mind2Web's macro) or "gt_type" (mean over gt action types).
    """

    name: str
    doc: str
    over: str = "steps"
    value: Callable[[Row], float] = lambda r: float(r["correct"])
    weight: Callable[[Row], float] = lambda r: 1.0
    average: str = "micro"
    episode_weight: Callable[[Sequence[Row]], float] = lambda rows: 1.0


def extra(name: str, default: float = 0.0) -> Callable[[Row], float]:
    """A metric value read from a step's `extras` (missing counts as `default`)."""
    return lambda r: float(r.get("extras", {}).get(name, default))


class Adapter:
    """Per-benchmark behaviour a protocol card needs; see the module docstring."""

    benchmark: str = ""
    policy_space: str = "mobile"  # "mobile" (AndroidWorld JSON), "desktop" (computer_13) or "mind2web"
    #: names of the join-key fields of a predictions line, and of the prediction payload
    key_fields: tuple[str, str] = ("episode_id", "step")

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol

    # -- keys ---------------------------------------------------------------------------------
    def step_key(self, ep: OfflineEpisode, step: Step) -> tuple[str, str]:
        """The (episode, step) key predictions join on."""
        return ep.episode.episode_id, str(step.index)

    def prediction_key(self, record: Mapping[str, Any]) -> tuple[str, str]:
        a, b = self.key_fields
        missing = [k for k in self.key_fields if k not in record]
        if missing:
            raise PredictionError(f"missing key field(s) {missing}; a line needs {list(self.key_fields)}")
        return str(record[a]), str(record[b])

    def scored(self, ep: OfflineEpisode, step: Step) -> bool:
        """Whether the protocol scores this step at all (SeeClick skips steps without a gt box)."""
        return True

    # -- predictions ----------------------------------------------------------------------------
    def prediction_native(self, record: Mapping[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        """The native action of one predictions-file line (PredictionError for a bad schema)."""
        raise NotImplementedError

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any) -> StepMatch:
        raise NotImplementedError

    # -- policies -------------------------------------------------------------------------------
    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        """The native action for a policy's text; ActionError when it is malformed or has no equivalent."""
        raise NotImplementedError

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        """The ground truth in the policy's vocabulary (teacher-forced histories)."""
        raise NotImplementedError

    def gt_as_prediction(self, ep: OfflineEpisode, step: Step) -> Native:
        """The ground truth as a prediction would state it (what `--policy oracle` answers)."""
        return dict(step.parsed_action)

    def observation(self, ep: OfflineEpisode, step: Step, level: str) -> str:
        """The observation text a policy sees at this step."""
        lines = [f"Task: {ep.episode.instruction}"]
        if level == "low" and step.instruction:
            lines.append(f"Step instruction: {step.instruction}")
        if step.screen:
            lines.append(f"Screen: {step.screen[0]}x{step.screen[1]} pixels")
        listed = element_lines(step.elements)
        if listed:
            lines += ["UI elements:", listed]
        return "\n".join(lines)

    def action_doc(self, ep: OfflineEpisode, step: Step) -> str:
        from stepgym.envs.mobile.env import action_doc

        w, h = step.screen or (1080, 2400)
        return action_doc(w, h)

    def available_actions(self, ep: OfflineEpisode, step: Step) -> list[str]:
        """Plausible policy actions at this step (what `--policy random` draws from)."""
        acts = [json.dumps({"action_type": "click", "index": e["index"]}) for e in step.elements
                if e.get("index") is not None and e.get("bbox")][:40]
        return acts + ['{"action_type": "scroll", "direction": "down"}', '{"action_type": "navigate_back"}',
                       '{"action_type": "navigate_home"}', '{"action_type": "input_text", "text": "hello"}']

    # -- viewer ---------------------------------------------------------------------------------
    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        """Shapes to draw for an action, in screen pixels: point, arrow, box or label."""
        return []

    # -- metrics --------------------------------------------------------------------------------
    def metrics(self, params: Any) -> list[MetricSpec]:
        raise NotImplementedError


# -- shared helpers -------------------------------------------------------------------------------
def element_lines(elements: Sequence[Mapping[str, Any]], limit: int = 60) -> str:
    """Elements as AndroidWorld-style lines `[i] kind "text" bounds=(l,t,r,b)`."""
    lines = []
    for e in elements[:limit]:
        if e.get("index") is None or not e.get("bbox"):
            continue
        left, top, right, bottom = (round(v) for v in e["bbox"])
        desc = f' desc="{e["content_description"]}"' if e.get("content_description") else ""
        flag = " clickable" if e.get("clickable") else ""
        lines.append(f'[{e["index"]}] {e.get("kind", "element")} "{str(e.get("text", ""))[:80]}"{desc} '
                     f"bounds=({left},{top},{right},{bottom}){flag}")
    return "\n".join(lines)


def parse_mobile(text: str | dict, step: Step) -> dict[str, Any]:
    """A policy's AndroidWorld JSON action, checked against the step's screen, with an element
    `index` resolved to that element's centre (`x`, `y`)."""
    w, h = step.screen or (10**6, 10**6)
    action = mobile_actions.parse(text, (w, h))
    if "index" in action:
        box = next((e["bbox"] for e in step.elements if e.get("index") == action["index"] and e.get("bbox")), None)
        if box is None:
            raise ActionError(f"index {action['index']} is not in this screen's element list")
        if "x" not in action:
            action["x"], action["y"] = round((box[0] + box[2]) / 2), round((box[1] + box[3]) / 2)
    return action


OPPOSITE = {"up": "down", "down": "up", "left": "right", "right": "left"}
DIRECTION_VECTORS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def finger_direction(action: Mapping[str, Any]) -> str:
    """Which way the finger moves for an AndroidWorld scroll (content direction: scroll down =
    finger up) or swipe (finger direction)."""
    d = str(action.get("direction", "")).lower()
    return OPPOSITE.get(d, d) if action.get("action_type") == "scroll" else d


def arrow_from(x: float, y: float, direction: str, length: float) -> dict[str, Any]:
    """An arrow mark from (x, y) `length` pixels towards `direction`."""
    dx, dy = DIRECTION_VECTORS.get(direction, (0.0, 0.0))
    return {"kind": "arrow", "x1": x, "y1": y, "x2": x + dx * length, "y2": y + dy * length}


def label(text: str) -> dict[str, Any]:
    """A text label mark (actions without a place on the screen)."""
    return {"kind": "label", "text": text}


def finite_point(value: Any, size: int = 2) -> list[float]:
    """`value` as `size` finite floats, else PredictionError."""
    try:
        out = [float(v) for v in value]
    except (TypeError, ValueError):
        raise PredictionError(f"expected a list of {size} numbers, got {value!r:.60}") from None
    if len(out) != size or not all(math.isfinite(v) for v in out):
        raise PredictionError(f"expected {size} finite numbers, got {value!r:.60}")
    return out
