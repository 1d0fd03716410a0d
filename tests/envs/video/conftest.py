"""Real mp4 files written with PyAV for the video tests."""

from __future__ import annotations

import pytest
from video_helpers import counter_frames

from stepgym.envs.video.io import write_video


@pytest.fixture(scope="session")
def counter_video(tmp_path_factory) -> str:
    """A 100-frame, 10 fps mp4 (key frame every 20 frames) whose frames encode their index."""
    path = tmp_path_factory.mktemp("video") / "counter.mp4"
    write_video(path, counter_frames(100), fps=10, crf=10, gop=20)
    return str(path)
