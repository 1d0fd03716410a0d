"""Video episodes end to end: oracle recordings for SFT on the train split, the tiny VLM acting on
VideoSearch-v0's text + frames through collect_episodes, and replay giving back the frames a record lacks."""

import numpy as np
import pytest

import stepgym
from stepgym.agents import OraclePolicy
from stepgym.envs.pool import EnvPool
from stepgym.runner import EpisodeJob, ReplayMismatch, collect_episodes, replay_inputs

SEARCH = {"frame_budget": 8, "overview_frames": 4, "max_steps": 4, "max_side": 112}


def collect(policy, jobs, kwargs=SEARCH):
    seen = []
    pool = EnvPool("stepgym/VideoSearch-v0", num_envs=2, env_kwargs=kwargs)
    episodes = collect_episodes(pool, policy, jobs, on_step=lambda ep, step, inp, act: seen.append((ep, inp, act)))
    pool.close()
    return episodes, seen


def test_train_split_oracle_recordings_replay_with_their_frames():
    env = stepgym.make("stepgym/VideoSearch-v0", split="train", **SEARCH)
    train = [t.task_id for t in env.unwrapped.split_tasks]
    test = [t.task_id for t in env.unwrapped.tasks.split("test")]
    assert len(train) == 32 and len(test) == 16 and not set(train) & set(test)
    episodes, seen = collect(OraclePolicy(), [EpisodeJob(seed=i, task_id=t) for i, t in enumerate(train[:6])])
    assert all(ep.success for ep in episodes)
    assert any(ep.steps[0].action.startswith("frames(") for ep in episodes)  # looks where the overview missed
    for ep in episodes:
        inputs = replay_inputs(env, ep)
        recorded = [inp for e, inp, _ in seen if e is ep]
        assert len(inputs) == len(recorded) == ep.num_steps
        for a, b in zip(inputs, recorded, strict=True):
            assert a.observation["text"] == b.observation["text"]
            np.testing.assert_array_equal(a.observation["frames"], b.observation["frames"])
            assert a.info["frame_timestamps"] == b.info["frame_timestamps"]
    wrong = stepgym.make("stepgym/VideoSearch-v0", **{**SEARCH, "overview_frames": 2})
    with pytest.raises(ReplayMismatch, match="make the env with the kwargs the episode was recorded with"):
        replay_inputs(wrong, episodes[0])


def test_tiny_vlm_acts_on_text_and_frames_and_replays_to_the_same_prompts(tmp_path):
    from stepgym.agents.hf import GenerationSettings, HFPolicy
    from stepgym.agents.prompting import PromptConfig
    from stepgym.agents.tiny import build_tiny_vlm

    policy = HFPolicy(build_tiny_vlm(tmp_path / "tiny", size="tiny", seed=0),
                      config=GenerationSettings(temperature=1.0, max_new_tokens=12, seed=0),
                      prompt=PromptConfig(history_len=2))
    episodes, seen = collect(policy, [EpisodeJob(seed=0), EpisodeJob(seed=1)], {**SEARCH, "max_steps": 2})
    assert [ep.num_steps for ep in episodes] == [2, 2]  # random weights: invalid actions, never a crash
    for _, inp, act in seen:
        frames = inp.observation["frames"]
        grid = act.prompt_inputs.video_grid_thw
        # the 4 frames reach the model as one video: 2 temporal patches (frames go in pairs)
        assert len(frames) == 4 and grid.shape == (1, 3) and int(grid[0, 0]) == 2
        assert "Frame times (s): " in policy.tokenizer.decode(act.prompt_ids)
    env = stepgym.make("stepgym/VideoSearch-v0", **{**SEARCH, "max_steps": 2})
    for ep in episodes:
        replayed = policy.encode(replay_inputs(env, ep))
        recorded = [act.prompt_inputs for e, _, act in seen if e is ep]
        for a, b in zip(replayed, recorded, strict=True):
            assert a.ids == b.ids and torch_equal(a.pixel_values_videos, b.pixel_values_videos)


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)
