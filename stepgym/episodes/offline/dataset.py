"""A recorded benchmark episode: the stepgym `Episode` record plus where each step's screenshot lives.

Loaders yield `OfflineEpisode`s one at a time, so a large release streams through the scorer
with one episode's screenshots in memory. Each step's ground-truth action is
`step.parsed_action`, in the benchmark's own vocabulary (the card says which); `step.action`
holds the same as JSON text. Screenshots stay in their source (TFRecord bytes, files on disk)
until `ImageSource.array()` decodes them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stepgym.episodes.schema import Episode


class ImageSource:
    """A screenshot that decodes on demand to an H×W×3 uint8 array."""

    def array(self) -> np.ndarray:
        raise NotImplementedError


def _rgb(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3], dtype=np.uint8)


@dataclass
class RawImage(ImageSource):
    """Raw H×W×C uint8 bytes (AITW's `image/encoded`)."""

    data: bytes
    height: int
    width: int
    channels: int

    def array(self) -> np.ndarray:
        expected = self.height * self.width * self.channels
        if len(self.data) != expected:
            raise ValueError(f"raw image of {len(self.data)} bytes, expected {self.height}x{self.width}x"
                             f"{self.channels} = {expected}")
        return _rgb(np.frombuffer(self.data, np.uint8).reshape(self.height, self.width, self.channels))


@dataclass
class EncodedImage(ImageSource):
    """PNG or JPEG bytes (AndroidControl's `screenshots`)."""

    data: bytes

    def array(self) -> np.ndarray:
        from PIL import Image

        with Image.open(io.BytesIO(self.data)) as im:
            return _rgb(np.asarray(im.convert("RGB")))


@dataclass
class ImageFile(ImageSource):
    """An image file on disk (GUI-Odyssey's screenshots folder, Mind2Web screenshots, our media/)."""

    path: Path

    def array(self) -> np.ndarray:
        from PIL import Image

        if not self.path.is_file():
            raise FileNotFoundError(f"screenshot {str(self.path)!r} is missing")
        with Image.open(self.path) as im:
            return _rgb(np.asarray(im.convert("RGB")))


@dataclass
class OfflineEpisode:
    """One recorded episode of a benchmark, ready to score."""

    episode: Episode
    images: list[ImageSource | None] = field(default_factory=list)  # one per step
    group: str = ""  # what per-group means average over: AITW subset, GUI-Odyssey category, ...

    def image(self, index: int) -> np.ndarray | None:
        """Step `index`'s screenshot, decoded (None when the release has none)."""
        src = self.images[index] if index < len(self.images) else None
        return None if src is None else src.array()
