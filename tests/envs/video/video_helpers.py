"""Frames for the video tests that carry their own index, readable after H.264 or JPEG compression."""

from __future__ import annotations

import numpy as np


def counter_frames(n: int, h: int = 64, w: int = 96) -> np.ndarray:
    """Frames that carry their index i in binary (7 black/white 12x12 blocks along the top, robust
    to H.264) and a moving bar below."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i, 16:, i % w] = 255
        for bit in range(7):
            if (i >> bit) & 1:
                frames[i, :12, 12 * bit : 12 * bit + 12] = 255
    return frames


def frame_number(frame: np.ndarray) -> int:
    """The index `counter_frames` wrote into a frame's top blocks."""
    return sum(1 << bit for bit in range(7) if frame[3:9, 12 * bit + 3 : 12 * bit + 9].mean() > 127)
