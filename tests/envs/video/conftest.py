"""Real mp4 files written with PyAV for the video tests."""

from __future__ import annotations

import numpy as np
import pytest

from stepgym.envs.video.io import write_video


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


@pytest.fixture(scope="session")
def counter_video(tmp_path_factory) -> str:
    """A 100-frame, 10 fps mp4 (key frame every 20 frames) whose frames encode their index."""
    path = tmp_path_factory.mktemp("video") / "counter.mp4"
    write_video(path, counter_frames(100), fps=10, crf=10, gop=20)
    return str(path)
