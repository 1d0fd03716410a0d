"""AndroidControl as released: GZIP TFRecords of `tf.train.Example`, one Example per episode.

Fields (google-research `android_control/README.md`): `episode_id` (int), `goal`, `screenshots`
(PNG bytes, one per observation), `accessibility_trees` (serialized
`android_env.AndroidAccessibilityForest`s), `screenshot_widths` / `screenshot_heights`,
`actions` (JSON strings, len(screenshots) - 1 of them) and `step_instructions` (one per action).
Step i is the action taken on screenshot i. The accessibility forests are parsed into element
boxes (`a11y.parse_forest`). `splits.json` ({train, validation, test}: episode ids) and
`test_subsplits.json` ({IDD, app_unseen, task_unseen, category_unseen}) sit beside the shards.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from stepgym.episodes.offline.a11y import parse_forest
from stepgym.episodes.offline.dataset import EncodedImage, OfflineEpisode
from stepgym.episodes.offline.tfrecord import Feature, read_examples
from stepgym.episodes.offline.wire import WireError
from stepgym.episodes.schema import Episode, Step

SPLITS = ("train", "validation", "test")
SUBSPLITS = ("IDD", "app_unseen", "task_unseen", "category_unseen")


def shard_files(data_dir: Path) -> list[Path]:
    """The `android_control*` TFRecord shards in `data_dir`, in name order."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"AndroidControl data directory {str(data_dir)!r} does not exist")
    files = sorted(p for p in data_dir.iterdir() if p.is_file() and p.name.startswith("android_control")
                   and not p.name.endswith(".json"))
    if not files:
        raise FileNotFoundError(f"no android_control-*-of-* TFRecord shards in {str(data_dir)!r}")
    return files


def _ids(path: Path, key: str) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if key not in data:
        raise KeyError(f"{str(path)!r} has no split {key!r}; it has {sorted(data)}")
    return {str(i) for i in data[key]}


def split_ids(data_dir: Path, split: str) -> set[str]:
    """Episode ids of a split (train / validation / test) or a test subsplit (IDD, app_unseen, ...)."""
    if split in SPLITS:
        return _ids(data_dir / "splits.json", split)
    if split in SUBSPLITS:
        return _ids(data_dir / "test_subsplits.json", split)
    raise ValueError(f"unknown AndroidControl split {split!r}; expected one of {', '.join(SPLITS + SUBSPLITS)}")


def read_step_list(path: str | Path) -> set[tuple[str, int]]:
    """(episode id, step) pairs from a file of `episode_<id>_screenshot_<step>` lines (OS-Atlas' ac_idx.txt)."""
    out = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"episode_(\d+)_screenshot_(\d+)", line)
        if not m:
            raise ValueError(f"{path}:{n}: expected episode_<id>_screenshot_<step>, got {line!r:.60}")
        out.add((m.group(1), int(m.group(2))))
    return out


def _elements(tree: bytes, where: str) -> list[dict]:
    try:
        nodes = parse_forest(tree)
    except WireError as exc:
        raise ValueError(f"{where}: unreadable accessibility forest ({exc})") from None
    out = []
    for node in nodes:
        left, top, right, bottom = node["bbox"]
        if right <= left or bottom <= top:
            continue
        out.append({"index": len(out), "bbox": [left, top, right, bottom], "kind": node["class_name"].rsplit(".", 1)[-1],
                    "text": node["text"], "content_description": node["content_description"],
                    "clickable": node.get("clickable", False), "window_type": node["window_type"]})
    return out


def _episode(ex: dict[str, Feature], source: Path, subsplits: dict[str, set[str]],
             keep_steps: set[tuple[str, int]] | None) -> OfflineEpisode | None:
    eid = str(ex["episode_id"][0])
    shots, trees = ex.get("screenshots", []), ex.get("accessibility_trees", [])
    widths, heights = ex.get("screenshot_widths", []), ex.get("screenshot_heights", [])
    actions = [json.loads(a.decode("utf-8")) for a in ex.get("actions", [])]
    instructions = [s.decode("utf-8", "replace") for s in ex.get("step_instructions", [])]
    if len(shots) != len(actions) + 1:
        raise ValueError(f"{source}: episode {eid} has {len(shots)} screenshots for {len(actions)} actions "
                         "(the release has one more screenshot than actions)")
    steps, images = [], []
    for i, action in enumerate(actions):
        if keep_steps is not None and (eid, i) not in keep_steps:
            continue
        elements = _elements(trees[i], f"{source}: episode {eid} step {i}") if i < len(trees) else []
        steps.append(Step(index=i, observation="", action=json.dumps(action), parsed_action=action,
                          step_id=str(i), instruction=instructions[i] if i < len(instructions) else None,
                          screen=[int(widths[i]), int(heights[i])], elements=elements))
        images.append(EncodedImage(shots[i]))
    if not steps:
        return None
    names = [n for n, ids in subsplits.items() if eid in ids]
    episode = Episode(env_id="androidcontrol", task_id=eid, seed=None, instruction=ex["goal"][0].decode("utf-8", "replace"),
                      steps=steps, success=True, episode_id=eid,
                      meta={"benchmark": "androidcontrol", "subsplits": names, "source": str(source),
                            "actions": len(actions)})
    return OfflineEpisode(episode=episode, images=images, group=names[0] if names else "")


def load_androidcontrol(data_dir: str | Path, split: str | None = None, step_list: str | Path | None = None,
                        limit: int | None = None) -> Iterator[OfflineEpisode]:
    """Yield AndroidControl episodes from the release's shards.

    `split`: train / validation / test or a test subsplit; `step_list`: keep only the steps a
    file of `episode_<id>_screenshot_<step>` lines names (OS-Atlas scores 7,708 such steps).
    """
    data_dir = Path(data_dir)
    keep = split_ids(data_dir, split) if split else None
    sub_path = data_dir / "test_subsplits.json"
    subsplits = ({k: {str(i) for i in v} for k, v in json.loads(sub_path.read_text(encoding="utf-8")).items()}
                 if sub_path.is_file() else {})
    keep_steps = read_step_list(step_list) if step_list else None
    count = 0
    for path in shard_files(data_dir):
        for ex in read_examples(path):
            if keep is not None and str(ex["episode_id"][0]) not in keep:
                continue
            ep = _episode(ex, path, subsplits, keep_steps)
            if ep is None:
                continue
            yield ep
            count += 1
            if limit is not None and count >= limit:
                return
