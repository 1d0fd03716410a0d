"""Episode directories: `episodes.jsonl` (one whole episode per line) plus `media/`.

Each episode is written with a single `write` of one complete line, flushed and fsynced, so
a crash can at worst leave a torn *last* line, which readers skip with a warning.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from stepgym.records import Episode

EPISODES_FILE = "episodes.jsonl"
MEDIA_DIR = "media"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return repr(x)


class EpisodeWriter:
    """Appends finished episodes to `DIR/episodes.jsonl`, images to `DIR/media/`."""

    def __init__(self, directory: str | Path, image_format: str = "png") -> None:
        self.directory = Path(directory)
        (self.directory / MEDIA_DIR).mkdir(parents=True, exist_ok=True)
        self.path = self.directory / EPISODES_FILE
        self.image_format = image_format
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.count = 0

    def save_image(self, episode_id: str, step_index: int, image: np.ndarray) -> str:
        """Write one image; returns its path relative to the directory."""
        from PIL import Image

        rel = f"{MEDIA_DIR}/{episode_id}/{step_index:04d}.{self.image_format}"
        path = self.directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(tmp, format=self.image_format.upper())
        os.replace(tmp, path)
        return rel

    def write(self, episode: Episode, images: Mapping[int, np.ndarray] | None = None) -> None:
        """Append one finished episode (images first, then the line that points to them)."""
        for index, image in (images or {}).items():
            episode.steps[index].image = self.save_image(episode.episode_id, index, image)
        line = json.dumps(_jsonable(episode.to_dict()), ensure_ascii=False) + "\n"
        data = line.encode("utf-8")
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)
        self.count += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def read_episodes(directory: str | Path) -> Iterator[Episode]:
    """Yield the episodes recorded in a directory (or an `episodes.jsonl` path), in order.

    A line that does not parse — the torn tail of a crashed writer — is skipped with a warning.
    """
    path = Path(directory)
    if path.is_dir():
        path = path / EPISODES_FILE
    if not path.exists():
        raise FileNotFoundError(f"no {EPISODES_FILE} at {str(path)!r}; record with --record DIR first")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                yield Episode.from_dict(record)
            except (json.JSONDecodeError, TypeError, KeyError) as exc:
                warnings.warn(
                    f"{path}:{lineno}: skipping an unreadable episode line ({exc}); "
                    "a writer probably crashed mid-write",
                    stacklevel=2,
                )
