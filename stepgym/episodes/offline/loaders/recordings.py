"""stepgym's own recordings as a benchmark: an episode directory of Mobile-v0 or Desktop-v0 episodes.

Record demonstrations with the oracle (`stepgym play stepgym/Mobile-v0 --policy oracle
--episodes 39 --record DIR`); each recorded step's parsed action is its ground truth. The
element list comes from the recorded observation text: Mobile-v0 lists boxes
(`[3] Switch "Wi-Fi" bounds=(0,76,360,132) clickable`), Desktop-v0 lists centres
(`[3] button "Save" at (640,360)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from stepgym.episodes.io import read_episodes
from stepgym.episodes.offline.dataset import ImageFile, OfflineEpisode
from stepgym.episodes.schema import Episode

_MOBILE = re.compile(r'^\[(\d+)\] (\S+) "(.*?)"(?: desc="(.*)")? bounds=\((-?\d+),(-?\d+),(-?\d+),(-?\d+)\)(.*)$')
_DESKTOP = re.compile(r'^\[(\d+)\] (\S+) "(.*)".* at \((-?\d+),(-?\d+)\)$')
_SCREEN = re.compile(r"screen (?:is )?(\d+)\s*x\s*(\d+)")
DEFAULT_SCREENS = {"mobile": (360, 640), "desktop": (1280, 720)}


def env_family(env_id: str) -> str:
    """"mobile" or "desktop" for a recorded env id; ValueError for envs without a GUI action space."""
    low = env_id.lower()
    if "mobile" in low:
        return "mobile"
    if "desktop" in low:
        return "desktop"
    raise ValueError(f"episodes of {env_id!r} are not GUI recordings; the stepgym benchmark scores "
                     "Mobile-v0 and Desktop-v0 (and envs with those action spaces)")


def parse_elements(observation: str, family: str) -> list[dict]:
    """The UI elements an observation text lists (Mobile-v0 boxes, Desktop-v0 centres)."""
    out = []
    for line in observation.splitlines():
        if family == "mobile":
            m = _MOBILE.match(line.strip())
            if m:
                box = [int(v) for v in m.group(5, 6, 7, 8)]
                out.append({"index": int(m.group(1)), "kind": m.group(2), "text": m.group(3),
                            "content_description": m.group(4) or "", "bbox": box,
                            "clickable": "clickable" in m.group(9)})
        else:
            m = _DESKTOP.match(line.strip())
            if m:
                out.append({"index": int(m.group(1)), "kind": m.group(2), "text": m.group(3),
                            "x": int(m.group(4)), "y": int(m.group(5))})
    return out


def screen_of(ep: Episode, family: str, directory: Path | None = None) -> list[int]:
    """The screen size of a recorded episode: from its action doc, else its first screenshot."""
    m = _SCREEN.search(str(ep.meta.get("action_doc", "")))
    if m:
        return [int(m.group(1)), int(m.group(2))]
    first = next((s.image for s in ep.steps if s.image), None)
    if first and directory is not None and (directory / first).is_file():
        from PIL import Image

        with Image.open(directory / first) as im:
            return [im.width, im.height]
    return list(DEFAULT_SCREENS[family])


def load_recordings(directory: str | Path, successful_only: bool = True, split: str | None = None,
                    limit: int | None = None) -> Iterator[OfflineEpisode]:
    """Yield recorded GUI episodes as a benchmark (by default only successful ones: demonstrations).

    Steps whose recorded action was invalid are dropped (they have no parsed ground truth).
    `split` keeps episodes whose task id contains it (e.g. "-test-").
    """
    directory = Path(directory)
    count = 0
    for ep in read_episodes(directory):
        if successful_only and not ep.success:
            continue
        if split and split not in ep.task_id:
            continue
        family = env_family(ep.env_id)
        screen = screen_of(ep, family, directory)
        steps, images = [], []
        for s in ep.steps:
            if not s.action_valid or s.parsed_action is None:
                continue
            s.screen = s.screen or list(screen)
            s.elements = s.elements or parse_elements(s.observation, family)
            s.step_id = s.step_id or str(s.index)
            steps.append(s)
            images.append(ImageFile(directory / s.image) if s.image else None)
        if not steps:
            continue
        ep.steps = steps
        ep.meta = {**ep.meta, "benchmark": "stepgym", "family": family, "source": str(directory)}
        yield OfflineEpisode(episode=ep, images=images, group=family)
        count += 1
        if limit is not None and count >= limit:
            return
