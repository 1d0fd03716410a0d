"""Recorded GUI episodes as a step dataset: one task per recorded step, for OfflineSteps-v0 (offline RL).

`export_steps(DIR, OUT)` writes `OUT/steps.jsonl`, a TaskSuite file whose task ids are
`<task id>-s<seed>:<step>`, and copies each step's screenshot to `OUT/media/` when asked. A task's
data holds what the step's card needs: the observation text, the env's action doc, the screen
size, the parsed element list, the recorded action (`gt_text`) and its parse (`gt`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from stepgym.episodes.offline.loaders.recordings import load_recordings


def _split(episode_id: str, test_fraction: float) -> str:
    h = int(hashlib.sha1(episode_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_fraction else "train"


def export_steps(recordings: str | Path, out_dir: str | Path, images: bool = True, test_fraction: float = 0.2,
                 successful_only: bool = True) -> Path:
    """Write the step dataset of a recording directory; returns the path of steps.jsonl.

    Episodes go to "test" with probability `test_fraction` by a hash of their id (stable across runs).
    """
    if not 0 <= test_fraction <= 1:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    recordings, out_dir = Path(recordings), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for oep in load_recordings(recordings, successful_only=successful_only):
        ep = oep.episode
        # a recorded episode's id is random; task and seed name it the same in every recording
        key = f"{ep.task_id}-s{ep.seed}" if ep.seed is not None else ep.episode_id
        space = "pyautogui" if "pyautogui" in ep.env_id.lower() else ("computer_13" if oep.group == "desktop" else "android_world")
        for step in ep.steps:
            image = None
            if images and step.image and (recordings / step.image).is_file():
                image = f"media/{key}/{step.index:04d}{Path(step.image).suffix}"
                (out_dir / image).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(recordings / step.image, out_dir / image)
            lines.append(json.dumps({
                "task_id": f"{key}:{step.index}", "instruction": ep.instruction,
                "split": _split(key, test_fraction), "episode_id": key, "step": step.index,
                "env_id": ep.env_id, "source_task_id": ep.task_id, "family": oep.group, "action_space": space,
                "observation": step.observation, "action_doc": ep.meta.get("action_doc", ""), "screen": step.screen,
                "elements": step.elements, "gt": step.parsed_action, "gt_text": step.action, "image": image,
            }, ensure_ascii=False, sort_keys=True))
    if not lines:
        raise ValueError(f"no recorded GUI steps to export in {str(recordings)!r}"
                         + (" (only successful episodes are exported)" if successful_only else ""))
    path = out_dir / "steps.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
