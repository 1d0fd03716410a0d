"""GUI-Odyssey as released: one JSON annotation per episode, a screenshots folder, split files.

Layout (OpenGVLab/GUI-Odyssey README and `data/format_converter.py`): `annotations/<id>.json`,
`screenshots/<id>_<step>.png`, `splits/{app,device,random,task}_split.json` =
`{"train": [...], "test": ["<id>.json", ...]}`; `DATA_DIR` may also be their parent `data/`.
Raw actions are decoded as `format_converter.decode_action` does: CLICK on KEY_HOME / KEY_BACK /
KEY_APPSELECT becomes PRESS_HOME / PRESS_BACK / PRESS_RECENT, CLICK / LONG_PRESS keep info[0]
as (x, y), SCROLL becomes the finger's direction (horizontal iff |dx| > |dy|), TEXT (or TYPE)
becomes TYPE, INCOMPLETE becomes IMPOSSIBLE. v1's HOME / BACK actions are read as PRESS_*.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepgym.episodes.offline.dataset import ImageFile, OfflineEpisode
from stepgym.episodes.schema import Episode, Step

SPLITS = ("app", "device", "random", "task")
CATEGORIES = ("Multi_Apps", "Web_Shopping", "General_Tool", "Information_Management", "Media_Entertainment",
              "Social_Sharing")


def decode_action(action: str, info: Any) -> dict[str, Any]:
    """The evaluation-vocabulary action {"action", "info"} of a raw annotation step."""
    a = str(action).strip().upper()
    if a in ("CLICK", "LONG_PRESS"):
        keys = {"KEY_HOME": "PRESS_HOME", "KEY_BACK": "PRESS_BACK", "KEY_APPSELECT": "PRESS_RECENT"}
        if isinstance(info, str) and info in keys:
            return {"action": keys[info], "info": ""}
        if isinstance(info, (list, tuple)) and info:
            point = info[0] if isinstance(info[0], (list, tuple)) else info
            return {"action": a, "info": [float(point[0]), float(point[1])]}
        raise ValueError(f"unknown {a} info {info!r:.60}")
    if a == "SCROLL":
        (x1, y1), (x2, y2) = info[0], info[1]
        dx, dy = x2 - x1, y2 - y1
        direction = ("LEFT" if dx < 0 else "RIGHT") if abs(dx) > abs(dy) else ("UP" if dy < 0 else "DOWN")
        return {"action": "SCROLL", "info": direction}
    if a in ("TEXT", "TYPE"):
        return {"action": "TYPE", "info": str(info)}
    if a in ("COMPLETE", "IMPOSSIBLE"):
        return {"action": a, "info": ""}
    aliases = {"INCOMPLETE": "IMPOSSIBLE", "HOME": "PRESS_HOME", "BACK": "PRESS_BACK", "KEY_RECENT": "PRESS_RECENT",
               "PRESS_HOME": "PRESS_HOME", "PRESS_BACK": "PRESS_BACK", "PRESS_RECENT": "PRESS_RECENT"}
    if a in aliases:
        return {"action": aliases[a], "info": ""}
    raise ValueError(f"unknown GUI-Odyssey action {action!r:.40}")


def _root(data_dir: Path) -> Path:
    for cand in (data_dir, data_dir / "data"):
        if (cand / "annotations").is_dir():
            return cand
    raise FileNotFoundError(f"no annotations/ folder in {str(data_dir)!r} (or its data/); GUI-Odyssey's "
                            "layout is annotations/<id>.json, screenshots/<id>_<step>.png, splits/*_split.json")


def split_files(root: Path, split: str) -> list[str]:
    """Annotation file names of `<name>[:train|test]` (the test part by default)."""
    name, _, part = split.partition(":")
    part = part or "test"
    name = name.removesuffix("_split")
    path = root / "splits" / f"{name}_split.json"
    if name not in SPLITS and not path.is_file():
        raise ValueError(f"unknown GUI-Odyssey split {split!r}; expected one of {', '.join(SPLITS)} "
                         "(optionally :train or :test)")
    data = json.loads(path.read_text(encoding="utf-8"))
    if part not in data:
        raise KeyError(f"{str(path)!r} has no {part!r} list; it has {sorted(data)}")
    return [f if f.endswith(".json") else f"{f}.json" for f in data[part]]


def _episode(path: Path, root: Path) -> OfflineEpisode:
    data = json.loads(path.read_text(encoding="utf-8"))
    device, task = data.get("device_info", {}), data.get("task_info", {})
    w, h = int(device.get("w", 1000)), int(device.get("h", 1000))
    steps, images = [], []
    for i, raw in enumerate(data.get("steps", [])):
        try:
            gt = decode_action(raw.get("action"), raw.get("info"))
        except (ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{path}: step {i}: {exc}") from None
        gt["sam2_bbox"] = list(raw.get("sam2_bbox") or [])
        shot = raw.get("screenshot") or f"{data['episode_id']}_{raw.get('step', i)}.png"
        steps.append(Step(index=i, observation="", action=json.dumps(gt), parsed_action=gt,
                          step_id=str(raw.get("step", i)), instruction=raw.get("low_level_instruction"),
                          screen=[w, h], info={"raw_action": raw.get("action"), "screenshot": shot}))
        images.append(ImageFile(root / "screenshots" / shot))
    eid = str(data["episode_id"])
    category = str(task.get("category", ""))
    episode = Episode(env_id="gui_odyssey", task_id=str(task.get("meta_task", eid)), seed=None,
                      instruction=str(task.get("instruction", task.get("task", ""))), steps=steps, success=True,
                      episode_id=eid, meta={"benchmark": "gui_odyssey", "category": category,
                                            "step_length": int(data.get("step_length", len(steps))),
                                            "apps": task.get("app", []), "device": device.get("device_name", ""),
                                            "source": str(path)})
    return OfflineEpisode(episode=episode, images=images, group=category)


def load_gui_odyssey(data_dir: str | Path, split: str | None = None, limit: int | None = None) -> Iterator[OfflineEpisode]:
    """Yield GUI-Odyssey episodes; `split` "random" / "task" / "device" / "app" (its test part,
    or "random:train") picks the annotation files a split lists, else all of them."""
    root = _root(Path(data_dir))
    names = split_files(root, split) if split else sorted(p.name for p in (root / "annotations").glob("*.json"))
    for count, name in enumerate(names):
        if limit is not None and count >= limit:
            return
        path = root / "annotations" / name
        if not path.is_file():
            raise FileNotFoundError(f"the split lists {name!r} but {str(path)!r} is missing")
        yield _episode(path, root)
