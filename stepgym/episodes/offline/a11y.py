"""AndroidControl's accessibility trees: serialized `android_env.AndroidAccessibilityForest` protos.

Field numbers from google-deepmind/android_env `android_env/proto/a11y/*.proto`:
Forest{windows=1}; WindowInfo{bounds_in_screen=1, window_type=6, tree=11}; Tree{nodes=1};
NodeInfo{unique_id=1, bounds_in_screen=2, class_name=3, content_description=4, hint_text=5,
package_name=6, text=7, view_id_resource_name=10, is_checked=13, is_clickable=14,
is_editable=15, is_long_clickable=19, is_scrollable=21, is_visible_to_user=23, child_ids=25
(packed), depth=27}; ProtoRect{left=1, top=2, right=3, bottom=4} in screen pixels.

Only these fields are decoded; everything else in the forest is skipped.
"""

from __future__ import annotations

from typing import Any

from stepgym.episodes.offline import wire

_STRINGS = {3: "class_name", 4: "content_description", 5: "hint_text", 6: "package_name", 7: "text",
            10: "view_id_resource_name"}
_FLAGS = {13: "checked", 14: "clickable", 15: "editable", 19: "long_clickable", 21: "scrollable",
          23: "visible"}
WINDOW_TYPES = {0: "unknown", 1: "application", 2: "input_method", 3: "system", 4: "accessibility_overlay",
                5: "split_screen_divider"}


def _rect(buf: memoryview) -> list[int]:
    box = [0, 0, 0, 0]
    for number, wtype, value in wire.fields(buf):
        if 1 <= number <= 4 and wtype == wire.VARINT:
            box[number - 1] = wire.signed32(int(value))
    return box


def _node(buf: memoryview, window: int, window_type: str) -> dict[str, Any]:
    node: dict[str, Any] = {"id": 0, "bbox": [0, 0, 0, 0], "class_name": "", "text": "",
                            "content_description": "", "window": window, "window_type": window_type,
                            "depth": 0, "children": []}
    for number, wtype, value in wire.fields(buf):
        if number == 1 and wtype == wire.VARINT:
            node["id"] = wire.signed32(int(value))
        elif number == 2 and wtype == wire.LEN:
            node["bbox"] = _rect(value)
        elif number in _STRINGS and wtype == wire.LEN:
            node[_STRINGS[number]] = bytes(value).decode("utf-8", "replace")
        elif number in _FLAGS and wtype == wire.VARINT:
            node[_FLAGS[number]] = bool(value)
        elif number == 25:
            node["children"] += ([wire.signed32(v) for v in wire.packed_varints(value)]
                                 if wtype == wire.LEN else [wire.signed32(int(value))])
        elif number == 27 and wtype == wire.VARINT:
            node["depth"] = wire.signed32(int(value))
    return node


def parse_forest(data: bytes) -> list[dict[str, Any]]:
    """The nodes of every window of a serialized forest, in order, each a dict with `id`,
    `bbox` [left, top, right, bottom] in pixels, `class_name`, `text`, `content_description`,
    flags (`clickable`, `editable`, ...), `window`, `window_type` and `children` ids.

    Raises `wire.WireError` on bytes that are not a forest.
    """
    nodes: list[dict[str, Any]] = []
    for w_index, (number, wtype, window) in enumerate(wire.fields(data)):
        if number != 1 or wtype != wire.LEN:
            continue
        wtype_name, trees = "unknown", []
        for n, wt, value in wire.fields(window):
            if n == 6 and wt == wire.VARINT:
                wtype_name = WINDOW_TYPES.get(int(value), str(int(value)))
            elif n == 11 and wt == wire.LEN:
                trees.append(value)
        for tree in trees:
            for n, wt, value in wire.fields(tree):
                if n == 1 and wt == wire.LEN:
                    nodes.append(_node(value, w_index, wtype_name))
    return nodes


# -- writing (test fixtures in the released schema) ---------------------------------------------
def encode_forest(windows: list[dict[str, Any]]) -> bytes:
    """Serialize `[{"window_type": 1, "nodes": [node dicts as parse_forest returns]}]` as a forest."""
    out = b""
    for w in windows:
        tree = b""
        for node in w["nodes"]:
            rect = b"".join(wire.field_varint(i + 1, v) for i, v in enumerate(node.get("bbox", [0, 0, 0, 0])))
            body = wire.field_varint(1, node.get("id", 0)) + wire.field_bytes(2, rect)
            for number, name in _STRINGS.items():
                if node.get(name):
                    body += wire.field_bytes(number, node[name].encode("utf-8"))
            for number, name in _FLAGS.items():
                if node.get(name):
                    body += wire.field_varint(number, 1)
            if node.get("children"):
                body += wire.field_bytes(25, b"".join(wire.varint(c) for c in node["children"]))
            body += wire.field_varint(27, node.get("depth", 0))
            tree += wire.field_bytes(1, body)
        window = wire.field_varint(6, w.get("window_type", 1)) + wire.field_bytes(11, tree)
        out += wire.field_bytes(1, window)
    return out
