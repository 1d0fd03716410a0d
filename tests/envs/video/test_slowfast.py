import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from stepgym.agents.slowfast import qwen_messages
from stepgym.envs.video.generate import textured_background
from stepgym.envs.video.io import write_video
from stepgym.envs.video.slowfast import (
    SlowFastConfig,
    encode_video,
    fit_slow_tokens,
    frame_similarity,
    frame_size_for_tokens,
    patch_features,
    plan_slowfast,
    uniform_frame_count,
)

FPS = 8


def scene(seed: int, seconds: float, h: int = 224, w: int = 224) -> list[np.ndarray]:
    """A static textured scene with a small ball drifting across it."""
    rng = np.random.default_rng(seed)
    bg = textured_background(rng, h, w)
    frames = []
    for i in range(int(seconds * FPS)):
        img = Image.fromarray(bg)
        x = 20 + 2 * i
        ImageDraw.Draw(img).ellipse([x - 4, 100, x + 4, 108], fill=(200, 60, 60))
        frames.append(np.asarray(img))
    return frames


@pytest.fixture(scope="module")
def cut_video(tmp_path_factory) -> str:
    """3 s of one static scene, a hard cut at 3.0 s, then 3 s of another."""
    path = tmp_path_factory.mktemp("slowfast") / "cut.mp4"
    write_video(path, np.stack(scene(1, 3.0) + scene(2, 3.0)), fps=FPS, crf=18)
    return str(path)


def test_slow_frames_exactly_at_the_start_and_the_cut(cut_video):
    video = encode_video(cut_video, SlowFastConfig(token_budget=100_000, sample_fps=2.0))
    ts = video.timestamps
    assert len(ts) == 12  # 6 s at 2 fps: the budget keeps every candidate
    slow_times = ts[video.plan.is_slow].tolist()
    first_after_cut = ts[ts >= 3.0][0]
    assert slow_times == [ts[0], first_after_cut]
    assert video.plan.kinds.count("fast") == 10
    # fast frames are those that still match the latest slow frame
    assert np.all(video.plan.scores[~video.plan.is_slow] >= 0.9)


def test_threshold_is_a_config_value(cut_video):
    strict = SlowFastConfig(token_budget=100_000, similarity_threshold=1.0, patch_cosine=0.995)
    video = encode_video(cut_video, strict)
    assert video.plan.is_slow.sum() > 2  # the drifting ball now makes frames differ
    with pytest.raises(ValueError, match="similarity_threshold must be in"):
        SlowFastConfig(similarity_threshold=1.5)
    with pytest.raises(ValueError, match="cannot hold one slow frame"):
        SlowFastConfig(token_budget=10)


@pytest.mark.parametrize("budget", [100, 300, 700, 1500, 4000, 20_000])
def test_token_budget_is_respected(cut_video, budget):
    video = encode_video(cut_video, SlowFastConfig(token_budget=budget, sample_fps=4.0))
    plan = video.plan
    assert plan.planned_tokens <= budget and plan.total_tokens <= plan.planned_tokens
    assert 48 <= plan.slow_tokens <= 768
    assert plan.fast_tokens == max(math.floor(0.3 * plan.slow_tokens), 48)
    assert all(h % 28 == 0 and w % 28 == 0 for h, w in plan.sizes)
    for (h, w), slow in zip(plan.sizes, plan.is_slow, strict=True):
        assert (h // 28) * (w // 28) <= (plan.slow_tokens if slow else plan.fast_tokens)
    assert plan.is_slow[0] and len(video.frames) == plan.num_frames
    if plan.slow_tokens < 768 and plan.num_frames == 24:  # a binding budget is filled: t + 1 would not fit
        n_slow = int(plan.is_slow.sum())
        cfg = plan.config
        assert n_slow * (plan.slow_tokens + 1) + (24 - n_slow) * cfg.fast_tokens(plan.slow_tokens + 1) > budget


def test_binary_search_matches_brute_force():
    cfg = SlowFastConfig(token_budget=5000)
    for n_slow in range(1, 12):
        for n_fast in range(0, 60, 7):
            fits = [t for t in range(48, 769) if n_slow * t + n_fast * cfg.fast_tokens(t) <= 5000]
            assert fit_slow_tokens(n_slow, n_fast, cfg) == (max(fits) if fits else None)


def test_slowfast_covers_more_frames_than_uniform_at_equal_budget(cut_video):
    # uniform sampling at the slow frames' resolution vs Slow-Fast, over every frame of the video
    budget = 4000
    video = encode_video(cut_video, SlowFastConfig(token_budget=budget, sample_fps=8.0))
    assert video.plan.num_frames == 48 and video.plan.slow_tokens >= 160
    assert video.plan.num_frames >= 2 * uniform_frame_count(budget, video.plan.slow_tokens)


def test_black_patches_are_ignored():
    black = np.zeros((4, 5 * 28 * 28 * 3), np.float32)
    grey = np.full_like(black, 100.0)
    assert frame_similarity(black, black) == 1.0
    assert frame_similarity(black, grey) == 0.0
    half = black.copy()
    half[:2] = 100.0
    assert frame_similarity(half, grey) == 0.5
    assert frame_similarity(half, half) == 1.0  # the black half is not counted either way


def test_patch_features_shrink_to_256_tokens():
    frames = np.zeros((2, 720, 1280, 3), np.uint8)
    feats = patch_features(frames)
    assert feats.shape[1] <= 256 and feats.shape[2] == 28 * 28 * 3
    assert frame_size_for_tokens(720, 1280, 256) == (336, 588)


def test_qwen_messages_carry_sizes_and_timestamps(cut_video):
    from qwen_vl_utils import process_vision_info

    video = encode_video(cut_video, SlowFastConfig(token_budget=600, sample_fps=2.0))
    messages = qwen_messages(video, "What changes at the cut?", system="You watch videos.")
    content = messages[-1]["content"]
    assert content[0] == {"type": "text", "text": f"<{video.timestamps[0]:.1f}s>"}
    assert content[-1]["text"] == "What changes at the cut?"
    images, _ = process_vision_info(messages)
    assert [(im.height, im.width) for im in images] == list(video.plan.sizes)
    assert [r.shape[:2] for r in video.resized()] == list(video.plan.sizes)


def test_plan_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="one timestamp per frame"):
        plan_slowfast(np.zeros((3, 56, 56, 3), np.uint8), np.zeros(2))
