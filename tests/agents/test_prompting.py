"""Prompt building: exact Qwen-VL message structure, history window, image budget, both modes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stepgym.agents.base import AgentInput
from stepgym.agents.prompting import (
    IMAGE_OMITTED,
    PromptConfig,
    build_messages,
    from_openai_messages,
    to_openai_messages,
    vision_inputs,
)
from stepgym.records import Step


def _img(v: int) -> np.ndarray:
    return np.full((40, 60, 3), v, np.uint8)


def _input(n_steps: int) -> AgentInput:
    history = [Step(index=i, observation=f"obs{i}", action=f"act{i}", action_valid=i != 1,
                    action_error="bad move" if i == 1 else None) for i in range(n_steps)]
    return AgentInput(env_index=0, observation={"text": f"obs{n_steps}", "image": _img(n_steps)}, info={},
                      instruction="Solve it.", action_doc="Say up or down.", history=history,
                      history_images=[_img(i) for i in range(n_steps)])


def _shape(messages):
    """Messages with images replaced by ('image', pixel value) for exact comparison."""
    out = []
    for m in messages:
        if isinstance(m["content"], str):
            out.append((m["role"], m["content"]))
        else:
            out.append((m["role"], [("image", int(np.asarray(c["image"])[0, 0, 0])) if c["type"] == "image"
                                    else c["text"] for c in m["content"]]))
    return out


def test_window_mode_exact_structure():
    cfg = PromptConfig(history_mode="window", history_len=2, max_history_images=1)
    msgs = build_messages(_input(4), cfg)
    assert _shape(msgs) == [
        ("system", "You are an agent acting in an environment, one action per turn.\nHow to act:\nSay up or down."),
        ("user", [
            "Task: Solve it.\n",
            "Previous steps (2 of 4):\n",
            "Step 3 observation:\nobs2\n", "Action: act2\n",
            "Step 4 observation:\nobs3\n", ("image", 3), "Action: act3\n",
            "Current observation (step 5):\nobs4\n", ("image", 4),
            "Your next action:",
        ]),
    ]
    image_items = [c for c in msgs[1]["content"] if c["type"] == "image"]
    assert all(c["min_pixels"] == cfg.min_pixels and c["max_pixels"] == cfg.max_pixels for c in image_items)


def test_window_mode_marks_invalid_actions_and_first_step():
    msgs = build_messages(_input(2), PromptConfig(history_len=5, max_history_images=0))
    texts = _shape(msgs)[1][1]
    assert "Action: act1\n(invalid: bad move)\n" in texts
    assert not any(isinstance(t, tuple) and t[1] in (0, 1) for t in texts)  # M=0: no history image
    first = build_messages(_input(0), PromptConfig())
    assert _shape(first)[1][1] == ["Task: Solve it.\n", "Current observation (step 1):\nobs0\n", ("image", 0),
                                   "Your next action:"]


def test_conversation_mode_exact_structure_and_image_budget():
    cfg = PromptConfig(history_mode="conversation", history_len=None, max_history_images=1)
    msgs = build_messages(_input(3), cfg)
    assert _shape(msgs) == [
        ("system", "You are an agent acting in an environment, one action per turn.\nHow to act:\nSay up or down."),
        ("user", ["Task: Solve it.\nObservation (step 1):\nobs0\n", IMAGE_OMITTED]),
        ("assistant", "act0"),
        ("user", ["Observation (step 2):\nobs1\n", IMAGE_OMITTED]),
        ("assistant", "act1"),
        ("user", ["Observation (step 3):\nobs2\n", ("image", 2)]),
        ("assistant", "act2"),
        ("user", ["Observation (step 4):\nobs3\n", ("image", 3)]),
    ]


def test_conversation_mode_window_keeps_instruction():
    msgs = build_messages(_input(5), PromptConfig(history_mode="conversation", history_len=1, max_history_images=2))
    shape = _shape(msgs)
    assert [r for r, _ in shape] == ["system", "user", "assistant", "user"]
    assert shape[1][1] == ["Task: Solve it.\n(4 earlier steps not shown)\nObservation (step 5):\nobs4\n", ("image", 4)]


@pytest.mark.parametrize("mode", ["window", "conversation"])
def test_total_images_bounded(mode):
    for m in range(4):
        msgs = build_messages(_input(6), PromptConfig(history_mode=mode, history_len=None, max_history_images=m))
        n_images = sum(c["type"] == "image" for msg in msgs if isinstance(msg["content"], list) for c in msg["content"])
        assert n_images == m + 1  # M history images + the current one


def test_pixel_budget_reaches_qwen_vl_utils():
    inp = _input(0)
    inp.observation["image"] = np.zeros((560, 1120, 3), np.uint8)
    images, _, _ = vision_inputs(build_messages(inp, PromptConfig(max_pixels=64 * 28 * 28)))
    w, h = images[0].size
    assert w * h <= 64 * 28 * 28 and w % 28 == 0 and h % 28 == 0 and 1.8 < w / h < 2.4
    images, _, _ = vision_inputs(build_messages(inp, PromptConfig(max_pixels=1024 * 28 * 28)))
    assert images[0].size == (1120, 560)


def test_openai_round_trip_keeps_pixels():
    msgs = build_messages(_input(1), PromptConfig(max_history_images=1))
    wire = to_openai_messages(msgs)
    parts = wire[1]["content"]
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/png;base64,") for u in urls)
    back = from_openai_messages(wire, PromptConfig())
    a, _, _ = vision_inputs(msgs)
    b, _, _ = vision_inputs(back)
    assert [np.asarray(x).tolist() for x in a] == [np.asarray(x).tolist() for x in b]


def test_bad_config_and_remote_urls_are_named():
    with pytest.raises(ValueError, match="history_mode must be 'window' or 'conversation', got 'chat'"):
        PromptConfig(history_mode="chat")
    with pytest.raises(ValueError, match="max_history_images must be >= 0"):
        PromptConfig(max_history_images=-1)
    with pytest.raises(ValueError, match="fetches nothing remote"):
        from_openai_messages([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://example.com/x.png"}}]}], PromptConfig())


def test_frames_become_a_video_item():
    inp = _input(0)
    inp.observation = {"text": "clip", "frames": np.zeros((3, 32, 32, 3), np.uint8)}
    msgs = build_messages(inp, PromptConfig())
    videos = [c for c in msgs[1]["content"] if c["type"] == "video"]
    assert len(videos) == 1 and len(videos[0]["video"]) == 4  # padded to an even count
    assert all(isinstance(f, Image.Image) for f in videos[0]["video"])


def test_frame_timestamps_set_times_and_fps():
    inp = _input(0)
    inp.observation = {"text": "clip", "frames": np.zeros((4, 32, 32, 3), np.uint8)}
    inp.info = {"frame_timestamps": [0.0, 2.0, 4.0, 6.0]}
    content = build_messages(inp, PromptConfig())[1]["content"]
    kinds = [c["type"] for c in content]
    assert kinds[-3:] == ["text", "video", "text"] and content[-3]["text"] == "Frame times (s): 0.0, 2.0, 4.0, 6.0\n"
    assert content[-2]["sample_fps"] == 0.5
    _, _, kwargs = vision_inputs(build_messages(inp, PromptConfig()))
    assert kwargs["video_metadata"][0]["fps"] == 0.5  # 2 frames per temporal patch -> 4 s apart
