"""Video QA: decord video I/O, generated clips with ground truth, benchmark loaders, QA and search envs."""

from stepgym.envs.video.datasets import (
    VideoQAItem,
    load_benchmark,
    load_longvideobench,
    load_mvbench,
    load_videomme,
    to_suite,
)
from stepgym.envs.video.env import VideoQAEnv, VideoSearchEnv, load_video_tasks
from stepgym.envs.video.generate import KINDS, GeneratedVideo, make_video, write_dataset
from stepgym.envs.video.io import (
    VideoError,
    VideoMeta,
    VideoReader,
    open_video,
    read_frames,
    sample_indices,
    write_video,
)

__all__ = [
    "VideoQAEnv", "VideoSearchEnv", "load_video_tasks", "VideoQAItem", "load_benchmark", "load_videomme",
    "load_mvbench", "load_longvideobench", "to_suite", "KINDS", "GeneratedVideo", "make_video",
    "write_dataset", "VideoError", "VideoMeta", "VideoReader", "open_video", "read_frames",
    "sample_indices", "write_video",
]
