"""Android in the Wild as released: GZIP TFRecords of `tf.train.Example`, one Example per step.

`DATA_DIR` holds the subset folders (`google_apps`, `install`, `web_shopping`, `general`,
`single`) of TFRecord files, or TFRecord files directly (their subset is then the folder's
name). An episode is a run of consecutive records with the same `episode_id`. Splits are JSON
files mapping a label (train / validation / test) to episode ids; pass one with `split_file`
(the release's file names under `gs://gresearch/android-in-the-wild/splits` were not checked).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from stepgym.episodes.offline.dataset import OfflineEpisode, RawImage
from stepgym.episodes.offline.tfrecord import Feature, read_examples
from stepgym.episodes.schema import Episode, Step

SUBSETS = ("google_apps", "install", "web_shopping", "general", "single")


def _one(ex: dict[str, Feature], key: str, default: Any = None) -> Any:
    values = ex.get(key)
    if not values:
        if default is None:
            raise KeyError(key)
        return default
    v = values[0]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else v


def record_files(data_dir: Path, subsets: Sequence[str] | None = None) -> list[tuple[str, Path]]:
    """(subset, file) for every TFRecord file under `data_dir`, in name order."""
    if not data_dir.is_dir():
        raise FileNotFoundError(f"AITW data directory {str(data_dir)!r} does not exist")
    files = sorted(p for p in data_dir.rglob("*") if p.is_file() and not p.name.endswith((".json", ".md", ".txt")))
    out = [(p.parent.name if p.parent != data_dir else data_dir.name, p) for p in files]
    if subsets:
        out = [(s, p) for s, p in out if s in subsets]
    if not out:
        raise FileNotFoundError(f"no AITW TFRecord files under {str(data_dir)!r}"
                                + (f" for subsets {list(subsets)}" if subsets else "")
                                + f"; expected folders {', '.join(SUBSETS)} of TFRecord files")
    return out


def read_split(split_file: str | Path, label: str) -> set[str]:
    """Episode ids of `label` in an AITW split file `{label: [episode ids]}`."""
    data = json.loads(Path(split_file).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or label not in data:
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise KeyError(f"split file {str(split_file)!r} has no label {label!r}; it has {keys}")
    return {str(i) for i in data[label]}


def _step(ex: dict[str, Feature], index: int) -> tuple[Step, RawImage]:
    h, w, c = int(_one(ex, "image/height")), int(_one(ex, "image/width")), int(_one(ex, "image/channels", 3))
    positions = list(ex.get("image/ui_annotations_positions", []))
    texts = [t.decode("utf-8", "replace") for t in ex.get("image/ui_annotations_text", [])]
    kinds = [t.decode("utf-8", "replace") for t in ex.get("image/ui_annotations_ui_types", [])]
    elements = []
    for i in range(len(positions) // 4):
        y, x, bh, bw = positions[4 * i:4 * i + 4]
        elements.append({"index": i, "yxhw": [y, x, bh, bw], "bbox": [x * w, y * h, (x + bw) * w, (y + bh) * h],
                         "text": texts[i] if i < len(texts) else "", "kind": kinds[i] if i < len(kinds) else ""})
    touch = list(ex.get("results/yx_touch", [-1.0, -1.0]))
    lift = list(ex.get("results/yx_lift", [-1.0, -1.0]))
    gt = {"action_type": int(_one(ex, "results/action_type")), "touch_yx": touch, "lift_yx": lift,
          "typed_text": _one(ex, "results/type_action", "")}
    step = Step(index=index, observation="", action=json.dumps(gt), parsed_action=gt,
                step_id=str(int(_one(ex, "step_id", index))), screen=[w, h], elements=elements,
                info={"current_activity": _one(ex, "current_activity", ""), "device_type": _one(ex, "device_type", "")})
    image = RawImage(ex["image/encoded"][0], h, w, c) if ex.get("image/encoded") else None
    return step, image


def _episode(records: list[dict[str, Feature]], subset: str, source: Path) -> OfflineEpisode:
    records = sorted(records, key=lambda ex: int(_one(ex, "step_id", 0)))
    steps, images = [], []
    for i, ex in enumerate(records):
        step, image = _step(ex, i)
        steps.append(step)
        images.append(image)
    first = records[0]
    eid = _one(first, "episode_id")
    episode = Episode(env_id=f"aitw/{subset}", task_id=str(eid), seed=None, instruction=_one(first, "goal_info", ""),
                      steps=steps, success=True, episode_id=str(eid),
                      meta={"benchmark": "aitw", "subset": subset, "episode_length": int(_one(first, "episode_length", len(steps))),
                            "android_api_level": int(_one(first, "android_api_level", 0)), "source": str(source)})
    return OfflineEpisode(episode=episode, images=images, group=subset)


def load_aitw(data_dir: str | Path, split: str | None = None, split_file: str | Path | None = None,
              subsets: Sequence[str] | None = None, limit: int | None = None) -> Iterator[OfflineEpisode]:
    """Yield AITW episodes (grouped by subset) from the release's TFRecord files.

    `split` with `split_file` keeps the episodes the split file lists under that label;
    `limit` stops after that many episodes.
    """
    data_dir = Path(data_dir)
    if split and not split_file:
        raise ValueError("AITW splits come from a split file: pass --set split_file=PATH (a JSON "
                         "{label: [episode ids]}) together with --split LABEL")
    keep = read_split(split_file, split or "test") if split_file else None
    count = 0
    for subset, path in record_files(data_dir, subsets):
        run: list[dict[str, Feature]] = []
        for ex in read_examples(path):
            eid = _one(ex, "episode_id")
            if run and _one(run[0], "episode_id") != eid:
                if keep is None or str(_one(run[0], "episode_id")) in keep:
                    yield _episode(run, subset, path)
                    count += 1
                    if limit is not None and count >= limit:
                        return
                run = []
            run.append(ex)
        if run and (keep is None or str(_one(run[0], "episode_id")) in keep):
            yield _episode(run, subset, path)
            count += 1
            if limit is not None and count >= limit:
                return
