import itertools
import json

import numpy as np
import pytest
import torch

from stepgym.agents.base import AgentAction, Policy
from stepgym.cli import build_parser
from stepgym.trainers.tspo import (
    FrameEncoder,
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
