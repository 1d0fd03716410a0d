"""Small fixtures in each benchmark's released schema, written by hand (no downloaded data).

Each writer returns the data directory. The metrics of the predictions written by
`*_predictions` are computed by hand in the tests, step by step.
"""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from stepgym.episodes.offline.a11y import encode_forest
from stepgym.episodes.offline.tfrecord import encode_example, write_records


def png(w: int, h: int, colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


# -- AITW: one Example per step, raw H x W x C pixels -------------------------------------------
AITW_W, AITW_H = 20, 40


def _aitw_step(eid: str, step: int, length: int, goal: str, action_type: int, touch=(-1.0, -1.0), lift=None,
               text: str = "", boxes: list[list[float]] | None = None, colour=(200, 30, 30)) -> bytes:
    boxes = boxes or []
    pixels = np.full((AITW_H, AITW_W, 3), colour, np.uint8)
    return encode_example({
        "episode_id": eid, "step_id": step, "episode_length": length, "goal_info": goal, "android_api_level": 33,
        "current_activity": "com.android.chrome/Main", "device_type": "pixel_6",
        "image/height": AITW_H, "image/width": AITW_W, "image/channels": 3, "image/encoded": pixels.tobytes(),
        "image/ui_annotations_positions": [v for b in boxes for v in b],
        "image/ui_annotations_text": [f"box{i}".encode() for i in range(len(boxes))],
        "image/ui_annotations_ui_types": [b"TEXT"] * len(boxes),
        "results/action_type": action_type, "results/type_action": text,
        "results/yx_touch": list(touch), "results/yx_lift": list(lift or touch),
    })


def write_aitw(root: Path) -> Path:
    """general: episode 101 (tap, type, swipe up), 102 (back, complete); install: 201 (tap, home)."""
    (root / "general").mkdir(parents=True)
    (root / "install").mkdir()
    box = [[0.45, 0.25, 0.1, 0.1]]  # y, x, h, w around the tap at (0.5, 0.3)
    general = [
        _aitw_step("101", 0, 3, "search for coffee", 4, (0.5, 0.3), boxes=box),
        _aitw_step("101", 1, 3, "search for coffee", 3, text="coffee maker", boxes=box, colour=(30, 200, 30)),
        _aitw_step("101", 2, 3, "search for coffee", 4, (0.8, 0.5), (0.2, 0.5), boxes=box, colour=(30, 30, 200)),
        _aitw_step("102", 0, 2, "go back", 5, boxes=box),
        _aitw_step("102", 1, 2, "go back", 10, boxes=box),
    ]
    install = [
        _aitw_step("201", 0, 2, "install an app", 4, (0.2, 0.8), boxes=[[0.15, 0.75, 0.1, 0.1]]),
        _aitw_step("201", 1, 2, "install an app", 6, boxes=[[0.15, 0.75, 0.1, 0.1]]),
    ]
    write_records(root / "general" / "general-00000-of-00001", general, compress=True)
    write_records(root / "install" / "install-00000-of-00001", install, compress=True)
    (root / "splits").mkdir()
    (root / "splits" / "standard.json").write_text(json.dumps({"train": ["102"], "validation": [], "test": ["101", "201"]}))
    return root


def aitw_predictions(path: Path) -> Path:
    lines = [
        {"episode_id": "101", "step_id": 0, "action_type": 4, "touch_yx": [0.52, 0.31], "lift_yx": [0.52, 0.31]},  # right
        {"episode_id": "101", "step_id": 1, "action_type": 3, "typed_text": "tea"},  # right: text is not compared
        {"episode_id": "101", "step_id": 2, "action_type": 4, "touch_yx": [0.1, 0.5], "lift_yx": [0.9, 0.5]},  # right: axis
        {"episode_id": "102", "step_id": 0, "action_type": 6},  # wrong type
        {"episode_id": "102", "step_id": 1, "action_type": 10},  # right
        {"episode_id": "201", "step_id": 0, "action_type": 4, "touch_yx": [0.8, 0.2], "lift_yx": [0.8, 0.2]},  # far
        # 201 step 1 has no prediction
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


# -- AndroidControl: one Example per episode, PNGs, a11y forests, JSON actions --------------------
AC_W, AC_H = 108, 240


def _forest(button: list[int]) -> bytes:
    return encode_forest([{"window_type": 1, "nodes": [
        {"id": 0, "bbox": [0, 0, AC_W, AC_H], "class_name": "android.widget.FrameLayout", "children": [1, 2]},
        {"id": 1, "bbox": button, "class_name": "android.widget.Button", "text": "Send", "clickable": True, "depth": 1},
        {"id": 2, "bbox": [0, 200, 108, 240], "class_name": "android.widget.TextView", "text": "Clock", "depth": 1},
    ]}])


def write_androidcontrol(root: Path) -> Path:
    """Episode 7 (click the button, type 'hello world', back) in test; episode 8 (open Clock) in train."""
    root.mkdir(parents=True)
    ep7_actions = [{"action_type": "click", "x": 54, "y": 120}, {"action_type": "input_text", "text": "hello world"},
                   {"action_type": "navigate_back"}]
    ep7 = encode_example({
        "episode_id": 7, "goal": "Send hello world",
        "screenshots": [png(AC_W, AC_H, (10 * i, 100, 200)) for i in range(4)],
        "accessibility_trees": [_forest([40, 100, 80, 140]) for _ in range(4)],
        "screenshot_widths": [AC_W] * 4, "screenshot_heights": [AC_H] * 4,
        "actions": [json.dumps(a, separators=(",", ":")) for a in ep7_actions],
        "step_instructions": ["tap send", "type the greeting", "go back"],
    })
    ep8 = encode_example({
        "episode_id": 8, "goal": "Open the clock",
        "screenshots": [png(AC_W, AC_H, (0, 0, 0)), png(AC_W, AC_H, (9, 9, 9))],
        "accessibility_trees": [_forest([40, 100, 80, 140])] * 2,
        "screenshot_widths": [AC_W] * 2, "screenshot_heights": [AC_H] * 2,
        "actions": ['{"action_type":"open_app","app_name":"Clock"}'], "step_instructions": ["open the clock app"],
    })
    write_records(root / "android_control-00000-of-00001", [ep7, ep8], compress=True)
    (root / "splits.json").write_text(json.dumps({"train": [8], "validation": [], "test": [7]}))
    (root / "test_subsplits.json").write_text(json.dumps({"IDD": [7], "app_unseen": [7], "task_unseen": [], "category_unseen": []}))
    return root


def androidcontrol_predictions(path: Path) -> Path:
    lines = [
        {"episode_id": 7, "step": 0, "action": {"action_type": "click", "x": 60, "y": 126}},
        {"episode_id": 7, "step": 1, "action": {"action_type": "input_text", "text": "hello there"}},
        {"episode_id": 7, "step": 2, "action": {"action_type": "navigate_home"}},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


# -- GUI-Odyssey: one JSON per episode, screenshots, split files ----------------------------------
def write_gui_odyssey(root: Path) -> Path:
    """e1 (Social_Sharing): click, type, scroll; e2 (Web_Shopping): home key, complete."""
    for d in ("annotations", "screenshots", "splits"):
        (root / "data" / d).mkdir(parents=True)
    data = root / "data"
    e1 = {"episode_id": "e1", "device_info": {"product": "x", "release_version": "14", "sdk_version": "34",
                                              "h": 200, "w": 100, "device_name": "Pixel 8 Pro"},
          "task_info": {"category": "Social_Sharing", "app": ["Chat"], "meta_task": "Share {}", "task": "Share a photo",
                        "instruction": "Share the latest photo in Chat"}, "step_length": 3,
          "steps": [
              {"step": 0, "screenshot": "e1_0.png", "action": "CLICK", "info": [[500, 500]], "ps": "",
               "sam2_bbox": [450, 450, 550, 550], "low_level_instruction": "tap the photo"},
              {"step": 1, "screenshot": "e1_1.png", "action": "TEXT", "info": "hi there", "ps": "", "sam2_bbox": [],
               "low_level_instruction": "type a caption"},
              {"step": 2, "screenshot": "e1_2.png", "action": "SCROLL", "info": [[500, 800], [500, 200]], "ps": "",
               "sam2_bbox": [], "low_level_instruction": "scroll to the send button"}]}
    e2 = {"episode_id": "e2", "device_info": {"h": 200, "w": 100, "device_name": "Pixel Tablet"},
          "task_info": {"category": "Web_Shopping", "app": ["Shop"], "meta_task": "Buy {}", "task": "Buy a pen",
                        "instruction": "Go home, then stop"}, "step_length": 2,
          "steps": [{"step": 0, "screenshot": "e2_0.png", "action": "CLICK", "info": "KEY_HOME", "sam2_bbox": []},
                    {"step": 1, "screenshot": "e2_1.png", "action": "COMPLETE", "info": "", "sam2_bbox": []}]}
    for ep in (e1, e2):
        (data / "annotations" / f"{ep['episode_id']}.json").write_text(json.dumps(ep))
        for s in ep["steps"]:
            (data / "screenshots" / s["screenshot"]).write_bytes(png(100, 200, (50, 60, 70 + 40 * s["step"])))
    (data / "splits" / "random_split.json").write_text(json.dumps({"train": ["e2.json"], "test": ["e1.json", "e2.json"]}))
    return root


def gui_odyssey_predictions(path: Path) -> Path:
    lines = [
        {"episode_id": "e1", "step": 0, "action": "CLICK", "info": [520, 530], "command": "CLICK: (520, 530)"},
        {"episode_id": "e1", "step": 1, "action": "TYPE", "info": "hi", "command": "TYPE: hi"},
        {"episode_id": "e1", "step": 2, "action": "SCROLL", "info": "DOWN", "command": "SCROLL: DOWN"},
        {"episode_id": "e2", "step": 0, "command": "PRESS_HOME"},
        {"episode_id": "e2", "step": 1, "action": "COMPLETE", "info": None, "command": "COMPLETE"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path


# -- Mind2Web: JSON lists of tasks with candidates --------------------------------------------------
def _candidate(node: str, rect: str, tag: str = "button") -> dict:
    return {"tag": tag, "attributes": json.dumps({"backend_node_id": node, "bounding_box_rect": rect, "aria_label": f"n{node}"}),
            "is_original_target": True, "is_top_level_target": True, "backend_node_id": node}


def write_mind2web(root: Path) -> Path:
    """t1: CLICK node 11, TYPE 'New York' into node 21 (ranked 60th); t2: SELECT 'Economy' (hidden target)."""
    (root / "test_task").mkdir(parents=True)
    tasks = [
        {"annotation_id": "t1", "website": "united", "domain": "Travel", "subdomain": "Airlines",
         "confirmed_task": "Find flights to New York", "action_reprs": ["[button] Flights -> CLICK", "[textbox] To -> TYPE: New York"],
         "actions": [
             {"action_uid": "a1", "raw_html": "<html/>", "cleaned_html": "<html/>",
              "operation": {"op": "CLICK", "original_op": "CLICK", "value": ""},
              "pos_candidates": [_candidate("11", "10,10,50,20")], "neg_candidates": [_candidate("12", "100,100,50,20")]},
             {"action_uid": "a2", "operation": {"op": "TYPE", "original_op": "TYPE", "value": "New York"},
              "pos_candidates": [_candidate("21", "0,50,200,30", "input")], "neg_candidates": []}]},
        {"annotation_id": "t2", "website": "aa", "domain": "Travel", "subdomain": "Airlines",
         "confirmed_task": "Pick economy", "action_reprs": ["[select] Class -> SELECT: Economy"],
         "actions": [{"action_uid": "b1", "operation": {"op": "SELECT", "original_op": "SELECT", "value": "Economy"},
                      "pos_candidates": [_candidate("31", "-1,-1,-1,-1", "select")], "neg_candidates": []}]},
    ]
    (root / "test_task" / "test_task_0.json").write_text(json.dumps(tasks))
    scores = {"scores": {"t1_a1": {"11": 0.9, "12": 0.1}, "t1_a2": {"21": 0.01}, "t2_b1": {"31": 0.5}},
              "ranks": {"t1_a1": {"11": 0, "12": 1}, "t1_a2": {"21": 60}, "t2_b1": {"31": 2}}}
    (root / "scores_all_data.pkl").write_bytes(pickle.dumps(scores))
    return root


def mind2web_predictions(path: Path) -> Path:
    lines = [
        {"annotation_id": "t1", "action_uid": "a1", "element": "11", "op": "CLICK", "value": "", "point": [30, 15]},
        {"annotation_id": "t1", "action_uid": "a2", "element": "21", "op": "TYPE", "value": "new york", "point": [100, 65]},
        {"annotation_id": "t2", "action_uid": "b1", "element": "31", "op": "SELECT", "value": "economy", "point": None},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return path
