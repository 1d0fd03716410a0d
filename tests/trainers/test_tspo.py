import itertools
import json

import numpy as np
import pytest
import torch

from stepgym.agents.base import AgentAction, Policy
from stepgym.cli import build_parser
from stepgym.trainers.tspo import (
    FrameEncoder,
    PolicyAnswerer,
    TemporalAgent,
    TSPOConfig,
    TSPOSample,
    TSPOTrainer,
    gumbel_topk,
    hash_bow,
    needle_samples,
    oracle_answerer,
    plackett_luce_logprob,
    policy_answerer,
    uniform_choice,
)


@pytest.fixture(autouse=True)
def one_thread():
    # the agent is tiny; on a shared CPU extra intra-op threads only slow it down
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_plackett_luce_matches_enumeration():
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.5]])
    p = torch.softmax(logits[0], 0).numpy()
    total = 0.0
    for a, b in itertools.permutations(range(4), 2):
        lp = plackett_luce_logprob(logits, torch.tensor([[a, b]])).item()
        expected = p[a] * p[b] / (1 - p[a])
        assert np.exp(lp) == pytest.approx(expected, rel=1e-5)
        total += np.exp(lp)
    assert total == pytest.approx(1.0, rel=1e-5)


def test_gumbel_topk_draws_without_replacement_from_the_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 0.5, 2.0]).repeat(20000, 1)
    gen = torch.Generator().manual_seed(0)
    chosen = gumbel_topk(logits, 3, gen)
    assert all(len(set(row)) == 3 for row in chosen[:200].tolist())
    first = np.bincount(chosen[:, 0].numpy(), minlength=5) / len(chosen)
    np.testing.assert_allclose(first, torch.softmax(logits[0], 0).numpy(), atol=0.015)


def test_untrained_agent_scores_all_frames_equally():
    agent = TemporalAgent(frame_dim=8, question_dim=16)
    scores = agent(torch.randn(2, 10, 8), torch.randn(2, 16))
    assert scores.shape == (2, 10)
    torch.testing.assert_close(scores, scores[:, :1].expand_as(scores))


def test_frozen_features_are_deterministic():
    frames = np.random.default_rng(0).integers(0, 255, size=(3, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(FrameEncoder()(frames), FrameEncoder()(frames))
    assert FrameEncoder()(frames).shape == (3, 96)
    q = hash_bow("Which object appeared briefly?")
    assert q.shape == (256,) and np.linalg.norm(q) == pytest.approx(1.0)
    np.testing.assert_array_equal(q, hash_bow("which OBJECT appeared briefly"))


def test_reward_is_accuracy_plus_temporal_fraction():
    ts = np.arange(10, dtype=float)
    s = TSPOSample("v.mp4", np.zeros((10, 4), np.float32), ts, np.zeros(8, np.float32), (3.0, 5.0))
    trainer = TSPOTrainer(TSPOConfig(k=4, temporal_weight=0.5))
    assert trainer.rewards(s, np.array([3, 4, 7, 8])) == (1.0 + 0.5 * 0.5, True)
    assert trainer.rewards(s, np.array([0, 1, 7, 8])) == (0.0, False)
    assert uniform_choice(64, 4).tolist() == [8, 24, 40, 56]
    # no evidence span (Video-MME publishes none): the reward is the answer alone
    s.evidence = None
    assert not s.in_span.any() and trainer.reward(s, np.array([3, 4, 7, 8]), True) == 1.0


class BrightCardPolicy(Policy):
    """Answers from pixels: right when one of its frames shows the needle's bright card, else an
    invalid letter (it knows the right letter, as a stand-in for a model that can read the card)."""

    name = "bright-card"

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def act(self, inputs):
        frames = inputs[0].observation["frames"]
        saw_card = bool((frames.reshape(len(frames), -1).mean(axis=1) > 150).any())
        return [AgentAction(text=f"The best answer is {self.answer if saw_card else 'Z'}.")]


def test_policy_answerer_sees_the_chosen_frames(tmp_path):
    sample = needle_samples(tmp_path, n=1, seed=5, candidates=48, keep_frames=True)[0]
    answer = policy_answerer(BrightCardPolicy(sample.answer))
    inside = np.flatnonzero(sample.in_span)
    outside = np.flatnonzero(~sample.in_span)
    assert answer(sample, np.array([outside[0], inside[0]]))
    assert not answer(sample, outside[:4])
    assert oracle_answerer(sample, inside[:1]) and not oracle_answerer(sample, outside[:4])


def test_training_raises_needle_recall_above_uniform(tmp_path, capsys):
    args = build_parser().parse_args(
        ["tspo-train", "--videos", "20", "--eval-fraction", "0.4", "--iterations", "40", "--candidates", "48",
         "--k", "4", "--lr", "0.005", "--seed", "0", "--out", str(tmp_path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "needle recall@4 on 8 held-out videos" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["uniform"] <= 0.3
    assert metrics["after"] > metrics["uniform"] and metrics["after"] > metrics["before"]
    assert metrics["after"] >= 0.75
    assert (tmp_path / "agent.pt").is_file()


def test_training_leaves_global_torch_state_alone(tmp_path):
    samples = needle_samples(tmp_path, n=4, seed=1, candidates=16)
    threads, rng = torch.get_num_threads(), torch.random.get_rng_state()
    TSPOTrainer(TSPOConfig(k=2, iterations=2, group_size=2, videos_per_iteration=2)).fit(samples[:3], samples[3:])
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng)


# -- the real setting: the tiny Qwen2.5-VL's own towers and answers ---------------------------------------
@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    from stepgym.agents.hf import GenerationSettings, HFPolicy
    from stepgym.agents.tiny import build_tiny_vlm

    path = build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "tiny-vlm", size="tiny", seed=0)
    return HFPolicy(path, config=GenerationSettings(temperature=0.0, max_new_tokens=6))


@pytest.fixture(scope="module")
def vlm_samples(tiny_policy, tmp_path_factory):
    from stepgym.agents.vision_features import VLMEmbedder

    embedder = VLMEmbedder(tiny_policy.model, tiny_policy.processor, tokens_per_frame=16)
    return needle_samples(tmp_path_factory.mktemp("needles"), n=8, seed=0, candidates=24, encoder=embedder,
                          keep_frames=True)


def test_vlm_embedder_pools_the_models_own_towers(tiny_policy, vlm_samples):
    from stepgym.agents.vision_features import VLMEmbedder

    embedder = VLMEmbedder(tiny_policy.model, tiny_policy.processor, tokens_per_frame=16)
    s = vlm_samples[0]
    assert s.features.shape == (24, embedder.dim) == (24, 64) and s.question.shape == (64,)
    np.testing.assert_allclose(np.sqrt((s.features ** 2).mean(axis=1)), 1.0, rtol=1e-4)  # unit RMS
    np.testing.assert_allclose(embedder(s.frames[:5]), s.features[:5], atol=1e-5)  # deterministic, batch-free
    # the needle card (a plain card with a vivid shape) lands elsewhere than the textured scenes
    inside, outside = s.features[s.in_span], s.features[~s.in_span]
    assert np.linalg.norm(inside.mean(0) - outside.mean(0)) > 5 * np.linalg.norm(outside[:4].std(0))
    # the question goes through the same model's language model
    np.testing.assert_allclose(embedder.text(s.text), s.question, atol=1e-5)
    assert not np.allclose(embedder.text("How many times does the square flash?"), s.question)
    with pytest.raises(TypeError, match="no vision tower and language model"):
        VLMEmbedder(torch.nn.Linear(2, 2), None)


def test_tspo_on_vlm_features_finds_the_needle(vlm_samples):
    cfg = TSPOConfig(k=2, iterations=30, lr=0.005, group_size=8, videos_per_iteration=8, seed=0)
    report = TSPOTrainer(cfg).fit(vlm_samples[3:], vlm_samples[:3])
    assert report.uniform <= 0.5 and report.after > report.uniform and report.after_greedy >= 0.75


def test_policy_answerer_shows_the_tiny_vlm_the_chosen_frames(tiny_policy, vlm_samples):
    answerer = policy_answerer(tiny_policy)
    assert isinstance(answerer, PolicyAnswerer)
    s = vlm_samples[0]
    chosen = np.array([9, 2, 23, 17])
    inp = answerer._input(s, chosen)
    np.testing.assert_allclose(inp.info["frame_timestamps"], s.timestamps[[2, 9, 17, 23]])  # in time order
    prompt = tiny_policy.encode([inp])[0]
    assert prompt.video_grid_thw.tolist() == [[2, 4, 4]]  # 4 frames -> 2 temporal patches of 56x56
    verdicts = answerer.batch([s, s, vlm_samples[1]], [chosen, chosen[::-1], chosen])
    assert len(verdicts) == 3 and verdicts[0] == verdicts[1]
    assert answerer.stats["replies"] == 2  # the same frames in another order were asked once
    answerer.batch([s], [chosen])
    assert answerer.stats["replies"] == 2  # cached: a greedy answerer repeats itself


@pytest.mark.slow
def test_real_setting_trains_end_to_end(tmp_path, capsys):
    args = build_parser().parse_args(
        ["tspo-train", "--features", "vlm", "--answerer", "vlm", "--videos", "12", "--eval-fraction", "0.34",
         "--iterations", "20", "--candidates", "32", "--k", "2", "--group-size", "4", "--lr", "0.005",
         "--out", str(tmp_path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "answer accuracy (vlm answerer)" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["features"] == "vlm" and (tmp_path / "tiny-vlm" / "config.json").is_file()
    assert metrics["answerer_replies"]["replies"] > 0
    assert set(metrics["accuracy"]) == {"uniform", "before", "after", "after_greedy"}
    assert metrics["after"] > metrics["uniform"]
