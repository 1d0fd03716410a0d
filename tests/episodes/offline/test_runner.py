"""Policies run step by step on recorded screens: teacher forcing vs free running, replay, real models."""

from __future__ import annotations

import json

import pytest
from fixtures import write_aitw, write_androidcontrol, write_gui_odyssey, write_mind2web

from stepgym.agents.base import AgentAction, Policy
from stepgym.episodes import read_episodes
from stepgym.episodes.offline import all_cards, get_card, load
from stepgym.episodes.offline.predict import run_policy

HOME = '{"action_type": "navigate_home"}'


class PathFollower(Policy):
    """Knows each demonstration; answers its next action while the history it is shown follows the
    demonstration, and navigates home once it does not. At step 1 it errs on purpose."""

    name = "path-follower"

    def __init__(self, demos: dict[str, list[str]]) -> None:
        self.demos = demos
        self.seen: list[tuple[str, int, list[str]]] = []

    def act(self, inputs):
        out = []
        for inp in inputs:
            demo = self.demos[inp.instruction]
            past = [s.action for s in inp.history]
            self.seen.append((inp.instruction, len(past), past))
            on_path = past == demo[:len(past)]
            out.append(AgentAction(text=HOME if len(past) == 1 or not on_path else demo[len(past)]))
        return out


def _demos(recording):
    return {e.instruction: [s.action for s in e.steps] for e in read_episodes(recording)}


def test_teacher_forcing_recovers_after_an_error_free_running_compounds_it(mobile_recording):
    card = get_card("stepgym", "mobile")
    demos = _demos(mobile_recording)
    teacher_policy, free_policy = PathFollower(demos), PathFollower(demos)
    teacher = run_policy(card, card.make_params(), load("stepgym", mobile_recording), teacher_policy, history="recorded")
    free = run_policy(card, card.make_params(), load("stepgym", mobile_recording), free_policy, history="predicted")
    n_steps = sum(len(d) for d in demos.values())
    assert teacher["steps"] == free["steps"] == n_steps
    # teacher forcing: only the deliberate error at step 1 of each episode is wrong
    assert [r["step"] for r in teacher["per_step"] if not r["correct"]] == [1] * len(demos)
    assert teacher["metrics"]["step_accuracy"] == pytest.approx((n_steps - len(demos)) / n_steps)
    # free running: the policy's own wrong answer is in its history from step 2 on, so every later step is wrong
    assert [r["step"] for r in free["per_step"] if r["correct"]] == [0] * len(demos)
    assert free["metrics"]["step_accuracy"] == pytest.approx(len(demos) / n_steps)
    assert teacher["metrics"]["episode_success"] == free["metrics"]["episode_success"] == 0.0
    # what each policy was shown: the recorded actions, or its own answers
    for goal, k, past in teacher_policy.seen:
        assert past == demos[goal][:k]
    assert any(HOME in past for _, _, past in free_policy.seen)
    assert teacher["source"]["history"] == "recorded" and free["source"]["history"] == "predicted"


def test_replayed_ground_truth_scores_one_and_random_does_not(mobile_recording):
    card = get_card("stepgym", "mobile")
    oracle = run_policy(card, card.make_params(), load("stepgym", mobile_recording), "oracle")
    assert all(v == 1.0 for v in oracle["metrics"].values())
    rand = run_policy(card, card.make_params(), load("stepgym", mobile_recording), "random", seed=3)
    assert rand["metrics"]["step_accuracy"] < 0.5 and rand["metrics"]["episode_success"] == 0.0


def test_the_screenshot_and_text_reach_the_policy(mobile_recording):
    seen = []

    class Spy(Policy):
        def act(self, inputs):
            seen.extend(inputs)
            return [AgentAction(text=HOME) for _ in inputs]

    card = get_card("stepgym", "mobile")
    run_policy(card, card.make_params(), load("stepgym", mobile_recording, limit=1), Spy())
    first = seen[0]
    assert first.observation["image"].shape == (640, 360, 3) and "UI elements:" in first.observation["text"]
    assert "AndroidWorld format" in first.action_doc and first.info["available_actions"]


@pytest.mark.parametrize("bench,writer,split", [("aitw", write_aitw, None), ("androidcontrol", write_androidcontrol, None),
                                                ("gui_odyssey", write_gui_odyssey, None), ("mind2web", write_mind2web, "test_task")])
def test_ground_truth_in_stepgym_json_maps_back_onto_itself(tmp_path, bench, writer, split):
    """The card's mapping onto stepgym's JSON: a policy that answers the ground truth in stepgym's
    vocabulary is right wherever the benchmark's action has a stepgym equivalent."""
    root = writer(tmp_path / bench)
    for card in (c for c in all_cards().values() if c.benchmark == bench):
        eps = list(load(bench, root, split=split))

        class Echo(Policy):
            def act(self, inputs):
                return [AgentAction(text=inp.info["ground_truth"]) for inp in inputs]

        report = run_policy(card, card.make_params({"top_k": 100} if bench == "mind2web" and card.protocol == "official" else {}),
                            eps, Echo())
        wrong = [(r["episode_id"], r["step"], r["note"]) for r in report["per_step"] if not r["correct"]]
        if bench == "mind2web" and card.protocol == "official":
            assert wrong == [("t2", 0, "unusable answer: SELECT needs x and y (page pixels) or a candidate index")]
        else:
            assert wrong == [], (card.name, wrong)


def test_tiny_hf_model_answers_on_recorded_screens(mobile_recording, tmp_path):
    from stepgym.agents.tiny import build_tiny_vlm

    model = build_tiny_vlm(tmp_path / "tiny", size="tiny", seed=0)
    card = get_card("stepgym", "mobile")
    spec = f"hf:{model}?max_new_tokens=6&history_len=1&max_pixels=25088"
    report = run_policy(card, card.make_params(), load("stepgym", mobile_recording, limit=1), spec, batch_size=4)
    assert report["steps"] == sum(len(e.episode.steps) for e in load("stepgym", mobile_recording, limit=1))
    assert all(isinstance(r["pred_text"], str) for r in report["per_step"])
    assert report["source"]["policy"]["name"] == "hf"
    # random weights answer junk: unusable answers are scored wrong, never crash the run
    assert report["metrics"]["step_accuracy"] < 0.5
    json.dumps(report)

