"""Spaces for free text and variable-size images, which gymnasium's own spaces cannot express.

`gymnasium.spaces.Text` accepts only its charset, and `Box` fixes a shape; an LLM agent's
action is any string and a screenshot's size depends on the app. These spaces accept any
`str` and any uint8 H×W×3 (or T×H×W×3) array, so `check_env` and `Dict.contains` pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.spaces import Space

_JUNK_ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789 []{}()<>/\"':,.-_=\n"))


class FreeText(Space[str]):
    """Any Python `str`. `sample()` draws one of `examples` (when given) or a random junk string.

    Random junk is deliberate: `check_env` and `RandomPolicy` step with samples, so an
    environment sees malformed text from the start.
    """

    def __init__(
        self,
        examples: Sequence[str] = (),
        junk_probability: float = 0.2,
        max_length: int = 64,
        seed: int | None = None,
    ) -> None:
        self.examples = tuple(examples)
        self.junk_probability = float(junk_probability)
        self.max_length = int(max_length)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        rng = self.np_random
        if self.examples and rng.random() >= self.junk_probability:
            return self.examples[int(rng.integers(len(self.examples)))]
        n = int(rng.integers(0, self.max_length + 1))
        return "".join(rng.choice(_JUNK_ALPHABET, size=n))

    def __repr__(self) -> str:
        return f"FreeText(examples={len(self.examples)})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, FreeText) and other.examples == self.examples


class AnyImage(Space[np.ndarray]):
    """Any uint8 array shaped (H, W, 3) — or (T, H, W, 3) with `frames=True` — of any size.

    `sample_shape` is only the size `sample()` draws.
    """

    def __init__(
        self,
        sample_shape: tuple[int, ...] = (64, 64, 3),
        frames: bool = False,
        seed: int | None = None,
    ) -> None:
        self.frames = frames
        self.sample_shape = tuple(sample_shape)
        super().__init__(shape=None, dtype=np.uint8, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        ndim = 4 if self.frames else 3
        return (
            isinstance(x, np.ndarray)
            and x.dtype == np.uint8
            and x.ndim == ndim
            and x.shape[-1] == 3
        )

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        return self.np_random.integers(0, 256, size=self.sample_shape, dtype=np.uint8)

    def __repr__(self) -> str:
        return f"AnyImage(frames={self.frames})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, AnyImage) and other.frames == self.frames


def observation_space(image: bool = False, extra: dict[str, Space] | None = None) -> spaces.Dict:
    """The observation `Dict`: `text` always, `image` for visual envs, plus env-specific keys."""
    d: dict[str, Space] = {"text": FreeText()}
    if image:
        d["image"] = AnyImage()
    d.update(extra or {})
    return spaces.Dict(d)
