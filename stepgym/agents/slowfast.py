"""Slow-Fast video frames as Qwen-VL chat messages: each frame at its planned size, after its timestamp.

The frame selection itself (Keye-VL 1.5's slow/fast split and token allotment) is an observation
transform of the video env and lives in `stepgym.envs.video.slowfast`; its names are re-exported
here so `from stepgym.agents.slowfast import encode_video, qwen_messages` works (the agent layer
may import the env layer, never the reverse).

    video = encode_video("clip.mp4", SlowFastConfig(token_budget=4096))
    messages = qwen_messages(video, "What happens after the cut?")
    images, videos = qwen_vl_utils.process_vision_info(messages)
"""

from __future__ import annotations

from typing import Any

from stepgym.envs.video.slowfast import (
    PATCH,
    SlowFastConfig,
    SlowFastPlan,
    SlowFastVideo,
    assign_slow_fast,
    encode_frames,
    encode_video,
    fit_slow_tokens,
    frame_similarity,
    frame_size_for_tokens,
    patch_features,
    plan_slowfast,
    uniform_frame_count,
)

__all__ = [
    "PATCH", "SlowFastConfig", "SlowFastPlan", "SlowFastVideo", "assign_slow_fast", "encode_frames",
    "encode_video", "fit_slow_tokens", "frame_similarity", "frame_size_for_tokens", "patch_features",
    "plan_slowfast", "uniform_frame_count", "timestamp_text", "qwen_messages",
]


def timestamp_text(seconds: float) -> str:
    """How a frame's time is written in the prompt, e.g. '<12.5s>'."""
    return f"<{seconds:.1f}s>"


def qwen_messages(video: SlowFastVideo, question: str, system: str | None = None) -> list[dict[str, Any]]:
    """Chat messages in the Qwen-VL format: each frame an image at its Slow/Fast size, after its timestamp.

    `qwen_vl_utils.process_vision_info(messages)` returns the frames at exactly `plan.sizes`
    (each image carries `resized_height` / `resized_width`, multiples of 28).
    """
    from PIL import Image

    content: list[dict[str, Any]] = []
    for frame, ts, (h, w) in zip(video.frames, video.timestamps, video.plan.sizes, strict=True):
        content.append({"type": "text", "text": timestamp_text(float(ts))})
        content.append({"type": "image", "image": Image.fromarray(frame), "resized_height": h, "resized_width": w})
    content.append({"type": "text", "text": question})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": content})
    return messages
