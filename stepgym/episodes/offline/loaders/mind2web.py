"""Mind2Web as released: JSON lists of task records, one folder per split.

`DATA_DIR/<split>/*.json` (train, test_task, test_website, test_domain; or under `data/`), each
file a list of tasks {annotation_id, website, domain, subdomain, confirmed_task, action_reprs,
actions[{action_uid, operation{op, original_op, value}, pos_candidates, neg_candidates, ...}]}.
Candidates carry `backend_node_id` and `attributes` (a JSON string whose `bounding_box_rect` is
"x,y,w,h" in page pixels, "-1,-1,-1,-1" when not visible). Optional beside them:
`scores_all_data.pkl` ({"scores", "ranks"}: "{annotation_id}_{action_uid}" → {node id: value},
read with a pickle loader that refuses every class but numpy scalars) and `screenshots/
<annotation_id>-<action_uid>.jpg` (SeeClick's file naming).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepgym.episodes.offline.dataset import ImageFile, OfflineEpisode
from stepgym.episodes.schema import Episode, Step

SPLITS = ("train", "test_task", "test_website", "test_domain")
MAX_ELEMENTS = 50  # candidates listed per step (positives first, then the best-ranked negatives)


class _ScalarsOnly(pickle.Unpickler):
    """Unpickles plain containers and numpy scalars; any other class is refused (pickles run code)."""

    ALLOWED = {("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"scores_all_data.pkl refers to {module}.{name}; only plain values are read")


def read_scores(path: Path) -> dict[str, dict[str, dict[str, float]]]:
    """{"scores": ..., "ranks": ...} from MindAct's candidate-ranker output."""
    with open(path, "rb") as f:
        data = _ScalarsOnly(f).load()
    if not isinstance(data, dict) or "ranks" not in data:
        raise ValueError(f"{str(path)!r} is not MindAct's scores_all_data.pkl (no 'ranks' key)")
    return data


def _root(data_dir: Path, split: str) -> Path:
    for cand in (data_dir / split, data_dir / "data" / split):
        if cand.is_dir():
            return cand
    raise FileNotFoundError(f"no {split}/ folder of Mind2Web JSON files in {str(data_dir)!r} (or its data/); "
                            f"splits: {', '.join(SPLITS)}")


def _box(candidate: dict[str, Any]) -> list[float] | None:
    try:
        attrs = json.loads(candidate.get("attributes") or "{}")
        x, y, w, h = (float(v) for v in str(attrs.get("bounding_box_rect", "")).split(","))
    except (ValueError, TypeError, json.JSONDecodeError):
        return None
    return None if w < 0 or h < 0 else [x, y, w, h]


def _text(candidate: dict[str, Any]) -> str:
    try:
        attrs = json.loads(candidate.get("attributes") or "{}")
    except json.JSONDecodeError:
        return ""
    for key in ("aria_label", "aria-label", "value", "placeholder", "title", "name", "alt"):
        if attrs.get(key):
            return str(attrs[key])
    return ""


def _file_order(p: Path) -> tuple[int, str]:
    tail = p.stem.rsplit("_", 1)[-1]
    return (int(tail) if tail.isdigit() else 10**9, p.name)


def _step(i: int, action: dict[str, Any], sample_id: str, ranks: dict[str, Any] | None) -> Step:
    op = action.get("operation", {})
    rank_of = (ranks or {}).get(sample_id)
    pos = action.get("pos_candidates") or []
    neg = action.get("neg_candidates") or []
    box = next((b for b in (_box(c) for c in pos) if b is not None), None)
    gt = {"op": str(op.get("op", "")), "original_op": str(op.get("original_op", op.get("op", ""))),
          "value": str(op.get("value", "")), "pos_ids": [str(c["backend_node_id"]) for c in pos],
          "pos_ranks": None if rank_of is None else [rank_of.get(str(c["backend_node_id"])) for c in pos],
          "bbox": box}
    ordered = pos + sorted(neg, key=lambda c: (rank_of or {}).get(str(c["backend_node_id"]), 10**9))
    elements = []
    for c in ordered[:MAX_ELEMENTS]:
        b = _box(c)
        if b is None:
            continue
        elements.append({"index": len(elements), "id": str(c["backend_node_id"]), "kind": c.get("tag", ""),
                         "text": _text(c), "bbox": [b[0], b[1], b[0] + b[2], b[1] + b[3]]})
    return Step(index=i, observation="", action=json.dumps({k: gt[k] for k in ("op", "value")}), parsed_action=gt,
                step_id=str(action.get("action_uid", i)), elements=elements)


def load_mind2web(data_dir: str | Path, split: str = "test_task", limit: int | None = None) -> Iterator[OfflineEpisode]:
    """Yield Mind2Web tasks of one split as episodes (one step per action)."""
    data_dir = Path(data_dir)
    root = _root(data_dir, split)
    scores_path = next((p for p in (data_dir / "scores_all_data.pkl", data_dir / "data" / "scores_all_data.pkl")
                        if p.is_file()), None)
    ranks = read_scores(scores_path)["ranks"] if scores_path else None
    ranks = {k: {str(c): int(r) for c, r in v.items()} for k, v in ranks.items()} if ranks else None
    shots = next((p for p in (data_dir / "screenshots", data_dir / "data" / "screenshots") if p.is_dir()), None)
    files = sorted(root.glob("*.json"), key=_file_order)
    if not files:
        raise FileNotFoundError(f"no .json files in {str(root)!r}")
    count = 0
    for path in files:
        tasks = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(tasks, list):
            raise ValueError(f"{str(path)!r}: expected a JSON list of task records")
        for task in tasks:
            aid = str(task["annotation_id"])
            steps, images = [], []
            for i, action in enumerate(task.get("actions", [])):
                step = _step(i, action, f"{aid}_{action.get('action_uid', i)}", ranks)
                image = shots / f"{aid}-{step.step_id}.jpg" if shots else None
                if image is not None and image.is_file():
                    from PIL import Image

                    with Image.open(image) as im:
                        step.screen = [im.width, im.height]
                    images.append(ImageFile(image))
                else:
                    images.append(None)
                steps.append(step)
            reprs = task.get("action_reprs", [])
            episode = Episode(env_id="mind2web", task_id=aid, seed=None, instruction=str(task.get("confirmed_task", "")),
                              steps=steps, success=True, episode_id=aid,
                              meta={"benchmark": "mind2web", "website": task.get("website", ""), "domain": task.get("domain", ""),
                                    "subdomain": task.get("subdomain", ""), "action_reprs": reprs, "split": split,
                                    "ranks": ranks is not None, "source": str(path)})
            yield OfflineEpisode(episode=episode, images=images, group=str(task.get("website", "")))
            count += 1
            if limit is not None and count >= limit:
                return
