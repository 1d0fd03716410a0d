"""Export recorded episodes as flat step rows: Parquet files or a `datasets.Dataset`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from stepgym.episodes.io import read_episodes
from stepgym.records import Episode


def step_rows(episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """One row per step, carrying its episode's fields (dict-valued fields as JSON text)."""
    rows = []
    for ep in episodes:
        for s in ep.steps:
            rows.append({
                "episode_id": ep.episode_id, "env_id": ep.env_id, "task_id": ep.task_id,
                "seed": ep.seed, "instruction": ep.instruction, "episode_success": ep.success,
                "episode_return": ep.total_reward, "step_index": s.index,
                "observation": s.observation, "image": s.image, "action": s.action,
                "parsed_action": json.dumps(s.parsed_action), "reward": s.reward,
                "terminated": s.terminated, "truncated": s.truncated, "state_key": s.state_key,
                "action_valid": s.action_valid, "action_error": s.action_error,
                "policy": json.dumps(s.policy),
            })
    return rows


def _require(module: str, extra: str = "data"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{module} is needed for this export: pip install 'stepgym[{extra}]'") from exc


def to_parquet(directory: str | Path, out_path: str | Path) -> Path:
    """Write the steps of a recorded directory to one Parquet file."""
    pa = _require("pyarrow")
    pq = _require("pyarrow.parquet")
    table = pa.Table.from_pylist(step_rows(read_episodes(directory)))
    out_path = Path(out_path)
    pq.write_table(table, out_path)
    return out_path


def to_dataset(directory: str | Path):
    """The steps of a recorded directory as a Hugging Face `datasets.Dataset`."""
    datasets = _require("datasets")
    return datasets.Dataset.from_list(step_rows(read_episodes(directory)))
