"""Mind2Web under MindAct's official metric and under SeeClick's screenshot convention."""

from __future__ import annotations

import json
import math
from typing import Any

from stepgym.envs.core import ActionError
from stepgym.envs.mobile.actions import _json_object
from stepgym.episodes.offline.card import THIRD_PARTY, UNVERIFIED, VERIFIED, ProtocolCard, Source
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import (
    Adapter,
    MetricSpec,
    Native,
    PredictionError,
    extra,
    label,
)
from stepgym.episodes.schema import Step
from stepgym.rewards.offline import mind2web as rule
from stepgym.rewards.offline.base import smallest_box_containing

ACTION_DOC = """\
You operate a web page (screenshot coordinates are page pixels, origin top-left). Each step you see
the task, the previous actions, a screenshot and candidate elements "[i] tag "text" bounds=(l,t,r,b)".
Reply with one JSON action:
{"action_type": "CLICK", "x": 100, "y": 200}
{"action_type": "TYPE", "x": 100, "y": 200, "text": "new york"}   (click the field, then type)
{"action_type": "SELECT", "x": 100, "y": 200, "text": "Economy"}   (choose an option of a drop-down)
or give "index": i instead of x, y to act on candidate i."""


class Mind2WebAdapter(Adapter):
    benchmark = "mind2web"
    policy_space = "mind2web"
    key_fields = ("annotation_id", "action_uid")

    def step_key(self, ep: OfflineEpisode, step: Step) -> tuple[str, str]:
        return ep.episode.episode_id, str(step.step_id)

    def scored(self, ep: OfflineEpisode, step: Step) -> bool:
        """SeeClick skips steps whose target has no box (and, with screenshots, those without one)."""
        if self.protocol != "seeclick":
            return True
        has_image = step.index < len(ep.images) and ep.images[step.index] is not None
        any_images = any(img is not None for img in ep.images)
        return step.parsed_action.get("bbox") is not None and (has_image or not any_images)

    def prediction_native(self, record: dict[str, Any], ep: OfflineEpisode, step: Step) -> Native | None:
        op = record.get("op")
        if not isinstance(op, str):
            raise PredictionError(f'"op" must be CLICK, TYPE or SELECT, got {op!r:.40}')
        point = record.get("point")
        if point is not None:
            try:
                point = [float(point[0]), float(point[1])]
            except (TypeError, ValueError, IndexError, KeyError):
                raise PredictionError(f'"point" must be [x, y] or null, got {point!r:.40}') from None
        element = record.get("element")
        return {"op": op, "value": "" if record.get("value") is None else str(record.get("value")),
                "element": None if element is None else str(element), "point": point}

    def match(self, pred: Native | None, ep: OfflineEpisode, step: Step, params: Any):
        if self.protocol == "official":
            return rule.match_mindact(pred, step.parsed_action, params)
        return rule.match_seeclick(pred, step.parsed_action, params)

    def action_doc(self, ep: OfflineEpisode, step: Step) -> str:
        return ACTION_DOC

    def available_actions(self, ep: OfflineEpisode, step: Step) -> list[str]:
        return [json.dumps({"action_type": "CLICK", "index": e["index"]}) for e in step.elements][:40] or [
            '{"action_type": "CLICK", "x": 10, "y": 10}']

    def from_policy(self, text: str, ep: OfflineEpisode, step: Step) -> Native:
        raw = _json_object(text) if isinstance(text, str) else dict(text)
        op = str(raw.get("action_type", "")).strip().upper()
        if op not in ("CLICK", "TYPE", "SELECT"):
            raise ActionError(f"action_type must be CLICK, TYPE or SELECT, got {raw.get('action_type')!r:.40}")
        boxes = [e["bbox"] for e in step.elements]
        if raw.get("index") is not None:
            i = raw["index"]
            if not isinstance(i, int) or not 0 <= i < len(boxes):
                raise ActionError(f"index {i!r:.20} is not a candidate; expected 0..{len(boxes) - 1}")
            b = boxes[i]
            x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        else:
            try:
                x, y = float(raw["x"]), float(raw["y"])
            except (KeyError, TypeError, ValueError):
                raise ActionError(f"{op} needs x and y (page pixels) or a candidate index") from None
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ActionError("x and y must be finite numbers")
        if op != "CLICK" and not isinstance(raw.get("text"), str):
            raise ActionError(f"{op} needs text (a string)")
        hit = smallest_box_containing(x, y, boxes)
        return {"op": op, "value": str(raw.get("text", "")) if op != "CLICK" else "",
                "point": [x, y], "element": None if hit is None else step.elements[hit]["id"]}

    def gt_policy_text(self, ep: OfflineEpisode, step: Step) -> str:
        gt = step.parsed_action
        out: dict[str, Any] = {"action_type": gt["op"]}
        if gt.get("bbox"):
            x, y, w, h = gt["bbox"]
            out["x"], out["y"] = round(x + w / 2), round(y + h / 2)
        if gt["op"] != "CLICK":
            out["text"] = gt.get("value", "")
        return json.dumps(out)

    def gt_as_prediction(self, ep: OfflineEpisode, step: Step) -> Native:
        gt = step.parsed_action
        box = gt.get("bbox")
        return {"op": gt["op"], "value": gt.get("value", ""), "element": (gt.get("pos_ids") or [None])[0],
                "point": [box[0] + box[2] / 2, box[1] + box[3] / 2] if box else None}

    def marks(self, native: Native | None, ep: OfflineEpisode, step: Step) -> list[dict[str, Any]]:
        if native is None:
            return []
        out: list[dict[str, Any]] = []
        if native.get("bbox"):
            x, y, w, h = native["bbox"]
            out += [{"kind": "box", "x1": x, "y1": y, "x2": x + w, "y2": y + h},
                    {"kind": "point", "x": x + w / 2, "y": y + h / 2}]
        elif native.get("point"):
            out.append({"kind": "point", "x": native["point"][0], "y": native["point"][1]})
        value = native.get("value") or ""
        return out + [label(f"{native.get('op', '')} {value}".strip())]

    def metrics(self, params: Any) -> list[MetricSpec]:
        el, f1 = extra("element"), extra("op_f1")
        seeclick = self.protocol == "seeclick"
        return [
            MetricSpec("element_accuracy", "steps whose element is right" + (" (point in the gt box)" if seeclick
                                                                            else " (predicted id among the kept positives)"), value=el),
            MetricSpec("op_f1", "token-set F1 of the operation string, " + ("averaged per op type (CLICK, SELECT, TYPE), then over the types"
                                                                         if seeclick else "averaged over steps"),
                       value=f1, average="gt_type" if seeclick else "micro"),
            MetricSpec("step_success", "steps with the element right and F1 = 1"),
            MetricSpec("task_success", "tasks whose every step succeeds", over="episodes"),
            MetricSpec("macro_element_accuracy", "element accuracy per task, averaged over tasks", value=el, average="episode"),
            MetricSpec("macro_op_f1", "mean F1 per task, averaged over tasks", value=f1, average="episode"),
            MetricSpec("macro_step_success", "step success per task, averaged over tasks", average="episode"),
        ]


_MINDACT = "OSU-NLP-Group/Mind2Web src/action_prediction/metric.py (the OSU repo is not in the store; read in copies)"
_SEECLICK = "njucckevin/SeeClick agent_tasks/mind2web_test.py @73c6835"
_COMMON = (
    Source("osunlp/Mind2Web dataset card", "data/train/train_*.json lists of tasks; test.zip holds test_task / test_website / test_domain; task and action fields"),
    Source("scores_all_data.pkl = {'scores', 'ranks'} keyed '{annotation_id}_{action_uid}' → {backend_node_id: value}", "MindAct dataloader copies", THIRD_PARTY),
    Source("attributes.bounding_box_rect 'x,y,w,h' ('-1,...' when hidden)", "3rd-party loaders", THIRD_PARTY),
    Source("test.zip folder names", "not opened: DATA_DIR/<split>/*.json is assumed", UNVERIFIED),
    Source("Multimodal-Mind2Web parquet", "not read by this loader (screenshots come from DATA_DIR/screenshots/)", UNVERIFIED),
)
_ACTIONS = {
    "CLICK (HOVER, ENTER stored as CLICK)": '`{"action_type": "CLICK", "x", "y"}` (computer_13\'s CLICK; page pixels)',
    "TYPE value": '`{"action_type": "TYPE", "x", "y", "text"}` (click the field, then computer_13 TYPING)',
    "SELECT value": '`{"action_type": "SELECT", "x", "y", "text"}` (no Desktop-v0 equivalent: stepgym\'s extension)',
    "element (backend_node_id)": "the smallest listed candidate whose box contains the point; `index` picks a candidate",
}
_SPLITS = {"test_task / test_website / test_domain / train": "the JSON files of DATA_DIR/<split>/ (default test_task)"}

OFFICIAL = ProtocolCard(
    benchmark="mind2web", protocol="official", title="MindAct `metric.py`",
    summary=("Element accuracy over the ranker's top-k positives, operation F1 as a case-sensitive token-set F1 of "
             "'OP value', step and task success, micro (over steps) and macro (over tasks)."),
    action_space=_ACTIONS,
    rules={"all": "no kept positive candidate (rank ≥ top_k): element, F1 and step are 0; no prediction: all 0",
           "element": "the predicted backend_node_id is one of the positives with rank < top_k (all positives when no ranks are given)",
           "operation": "token-set F1 of `OP value` vs the gt's (`CLICK` alone for gt clicks; a predicted CLICK keeps its value), case-sensitive",
           "step": "element right and F1 == 1"},
    params=rule.MindActParams, splits=_SPLITS, levels={},
    metrics={"element_accuracy": "micro element accuracy", "op_f1": "micro operation F1", "step_success": "micro step success",
             "task_success": "tasks with every step right", "macro_element_accuracy": "per-task element accuracy, averaged ('marco_element_acc')",
             "macro_op_f1": "per-task F1, averaged", "macro_step_success": "per-task step success, averaged"},
    sources=(Source(_MINDACT, "rank < top_k (50), calculate_f1 on token sets, step = element and F1 == 1, marco_* over annotation_id", THIRD_PARTY),
             Source("which of micro / macro the paper tables use", "a 3rd-party note cites the README's 2023-10-30 update as 'macro'; not read", UNVERIFIED),
             *_COMMON),
    data_layout="`<split>/*.json` (or `data/<split>/`), optional `scores_all_data.pkl` and `screenshots/`",
    adapter=Mind2WebAdapter("official"),
)
SEECLICK = ProtocolCard(
    benchmark="mind2web", protocol="seeclick", title="SeeClick `mind2web_test.py` (the screenshot convention)",
    summary=("Element = the predicted point inside the gt box; operation F1 on the op id plus the lower-cased value "
             "(TYPE, SELECT only), reported as the mean over op types; steps without a gt box are skipped."),
    action_space=_ACTIONS,
    rules={"element": "point inside the gt bounding box, inclusive", "operation": "token-set F1 of `id value.lower()` (4 = CLICK/HOVER/ENTER without value, 2 SELECT, 3 TYPE)",
           "step": "element right and F1 == 1", "no usable point": "element wrong, F1 0 (SeeClick's 'format wrong')",
           "gt without a box": "skipped (not scored); with a screenshots folder, steps without a screenshot are skipped too"},
    params=rule.SeeClickParams, splits=_SPLITS, levels={},
    metrics={"element_accuracy": "element accuracy over scored steps", "op_f1": "mean over op types of the per-type mean F1",
             "step_success": "step success over scored steps", "task_success": "tasks whose every scored step succeeds",
             "macro_element_accuracy": "per-task element accuracy, averaged", "macro_op_f1": "per-task F1, averaged",
             "macro_step_success": "per-task step success, averaged"},
    sources=(Source(_SEECLICK, "action2step ids, point-in-bbox, lower-cased values for TYPE / SELECT, op F1 mean over types, skipped steps, macro and episode success", VERIFIED),
             Source("screenshot file names <annotation_id>-<action_uid>.jpg", _SEECLICK, VERIFIED),
             *_COMMON),
    data_layout="`<split>/*.json` (or `data/<split>/`) and `screenshots/<annotation_id>-<action_uid>.jpg`",
    adapter=Mind2WebAdapter("seeclick"),
)
CARDS = (OFFICIAL, SEECLICK)
