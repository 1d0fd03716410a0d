"""GUI grounding: map the coordinates a VLM writes back to screen pixels, and the reverse.

- Qwen2.5-VL answers in absolute pixels of the image it was *shown*, i.e. the screenshot after
  qwen-vl-utils' `smart_resize` (sides rounded to multiples of 28 within a pixel budget). A point
  (x, y) on that image is (x * W / w', y * H / h') on a W×H screen.
- Qwen2-VL answers in relative coordinates on a 0–1000 grid: (x * W / 1000, y * H / 1000).

`to_screen` / `from_screen` convert both ways; `parse_point` pulls a point out of model text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from stepgym.agents.prompting import PromptConfig

CoordSystem = Literal["qwen2.5-vl", "qwen2-vl"]
PATCH_FACTOR = 28  # 14-pixel patches merged 2x2


def smart_resize(height: int, width: int, min_pixels: int, max_pixels: int,
                 factor: int = PATCH_FACTOR) -> tuple[int, int]:
    """(height, width) Qwen-VL resizes an image to: multiples of `factor`, area in [min, max] pixels."""
    from qwen_vl_utils import smart_resize as _smart_resize

    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    h, w = _smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
    return int(h), int(w)


@dataclass(frozen=True)
class Grounding:
    """Coordinate mapping for one screen size under one model's coordinate convention."""

    screen_width: int
    screen_height: int
    system: CoordSystem = "qwen2.5-vl"
    min_pixels: int = PromptConfig.min_pixels
    max_pixels: int = PromptConfig.max_pixels

    def __post_init__(self) -> None:
        if self.system not in ("qwen2.5-vl", "qwen2-vl"):
            raise ValueError(f"coordinate system must be 'qwen2.5-vl' or 'qwen2-vl', got {self.system!r}")
        if self.screen_width <= 0 or self.screen_height <= 0:
            raise ValueError(f"screen size must be positive, got {self.screen_width}x{self.screen_height}")

    @classmethod
    def for_prompt(cls, screen_width: int, screen_height: int, prompt: PromptConfig,
                   system: CoordSystem = "qwen2.5-vl") -> Grounding:
        """The grounding that matches the image budget a `PromptConfig` shows the model."""
        return cls(screen_width, screen_height, system, prompt.min_pixels, prompt.max_pixels)

    @property
    def model_size(self) -> tuple[int, int]:
        """(width, height) of the model's coordinate frame: the resized image, or 1000x1000."""
        if self.system == "qwen2-vl":
            return (1000, 1000)
        h, w = smart_resize(self.screen_height, self.screen_width, self.min_pixels, self.max_pixels)
        return (w, h)

    def to_screen(self, x: float, y: float) -> tuple[int, int]:
        """Screen pixel (clamped inside the screen) of a model point (x, y)."""
        mw, mh = self.model_size
        sx = x * self.screen_width / mw
        sy = y * self.screen_height / mh
        return (min(max(int(math.floor(sx)), 0), self.screen_width - 1),
                min(max(int(math.floor(sy)), 0), self.screen_height - 1))

    def from_screen(self, x: float, y: float) -> tuple[int, int]:
        """Model point of screen pixel (x, y): its centre, in the model's frame (rounded)."""
        mw, mh = self.model_size
        return (int(round((x + 0.5) * mw / self.screen_width)), int(round((y + 0.5) * mh / self.screen_height)))


_POINT = re.compile(r"[\[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\])]")
_BOX = re.compile(r"[\[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,"
                  r"\s*(-?\d+(?:\.\d+)?)\s*[\])]")


def parse_point(text: str) -> tuple[float, float]:
    """The point in a model's text: `(x, y)` / `[x, y]`, or the centre of a box `[x1, y1, x2, y2]`."""
    box = _BOX.search(text)
    if box:
        x1, y1, x2, y2 = map(float, box.groups())
        return ((x1 + x2) / 2, (y1 + y2) / 2)
    point = _POINT.search(text)
    if point:
        return (float(point.group(1)), float(point.group(2)))
    raise ValueError(f"expected a point like (x, y) or [x1, y1, x2, y2] in the text, got {text[:80]!r}")
