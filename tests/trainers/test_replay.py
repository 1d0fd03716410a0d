"""ARPO's experience replay: the injection rule, the buffer, importance weights, checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stepgym.agents.base import AgentInput
from stepgym.agents.hf import GenerationSettings, HFPolicy
from stepgym.agents.prompting import PromptConfig
from stepgym.agents.tiny import build_tiny_vlm
from stepgym.episodes.io import read_episodes
from stepgym.episodes.viewer import write_report
from stepgym.records import Episode, Step
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.replay import (
    ReplayBuffer,
    ReplayRollouts,
    StoredEpisode,
    _InputLog,
    all_negative,
    is_replayed,
)
from stepgym.trainers.rollout import EpisodeRollout, GroupSpec, RolloutBatch, RolloutGroup, StepRow
from stepgym.trainers.strategy import RolloutContext

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

G = 4


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    model_dir = build_tiny_vlm(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0)
    return HFPolicy(model_dir, config=GenerationSettings(max_new_tokens=3, temperature=1.0, seed=0),
                    prompt=PromptConfig(history_len=0, include_image=True, max_history_images=0),
                    device="cpu")


def _ctx(policy, cfg, iteration):
    settings = GenerationSettings(max_new_tokens=3, temperature=1.0, seed=1000 + iteration)
    return RolloutContext(pool=None, policy=policy, settings=settings, config=cfg, iteration=iteration)


def _input(task: str, k: int, image: bool = False) -> AgentInput:
    obs = {"text": f"{task}: screen {k}"}
    if image:
        rng = np.random.default_rng(k)
        obs["image"] = rng.integers(0, 255, size=(56, 84, 3), dtype=np.uint8)
    return AgentInput(env_index=k, observation=obs, info={"task_id": task}, instruction=f"do {task}",
                      action_doc="tap(x)")


def _batch(ctx, log, returns_by_task: dict[str, list[float]], iteration: int, image: bool = False) -> RolloutBatch:
    """Hand-built groups: one per task, one step per episode with the given returns; the steps'
    prompts and tokens are real (sampled by the tiny model through `log`)."""
    groups = []
    for gi, (task, returns) in enumerate(returns_by_task.items()):
        inputs = [_input(task, iteration * 100 + gi * 10 + k, image) for k in range(len(returns))]
        actions = log.act(inputs)
        episodes = []
        for inp, act, ret in zip(inputs, actions, returns):
            ep = Episode(env_id="hand", task_id=task, seed=gi, instruction=inp.instruction, success=ret > 0.5,
                         total_reward=ret, steps=[Step(index=0, observation=inp.observation["text"], action=act.text,
                                                       reward=ret, terminated=True, state_key="s0")])
            row = StepRow(prompt=act.prompt_inputs, response_ids=tuple(act.token_ids),
                          sampled_logprobs=tuple(act.logprobs), reward=ret, state_key="s0", step_index=0,
                          action_valid=True)
            episodes.append(EpisodeRollout(ep, (row,)))
        groups.append(RolloutGroup(GroupSpec(f"{iteration}:{gi}:{task}", task, gi), tuple(episodes)))
    return RolloutBatch(tuple(groups))


def _strategy(tmp_path, **options) -> ReplayRollouts:
    cfg = TrainConfig(model="tiny:tiny", run_dir=str(tmp_path), group_size=G)
    return ReplayRollouts(cfg, **options)


def _play(strategy, policy, returns_by_task, iteration, image=False):
    ctx = _ctx(policy, strategy.config, iteration)
    log = _InputLog(ctx.sampler())
    sampled = _batch(ctx, log, returns_by_task, iteration, image)
    return sampled, strategy.replay(ctx, sampled, log)


def test_all_negative_rule():
    assert all_negative(np.zeros(4)) and all_negative(np.array([0.1, 0.1, 0.12, 0.1]))
    assert not all_negative(np.array([0.0, 0.0, 0.0, 1.0]))  # mixed: std 0.43
    assert not all_negative(np.array([0.3, 0.3, 0.3, 0.3]))  # equal but mean above 0.2
    assert not all_negative(np.array([0.0, 0.0, 0.15, 0.15]))  # mean 0.075 but std 0.075


def test_all_fail_group_gets_a_stored_success_mixed_group_does_not(tmp_path, policy):
    s = _strategy(tmp_path)
    _, first = _play(s, policy, {"a": [1.0, 0.0, 0.0, 0.0], "b": [0.0] * G}, 0)
    # empty buffer at first: the all-fail group of "b" stays as sampled
    assert first.stats["replay_all_negative_groups"] == 1 and first.stats["replay_injections"] == 0
    assert not any(is_replayed(e) for e in first.episodes)
    assert s.buffer.sizes() == {"a": 1}

    sampled, batch = _play(s, policy, {"a": [0.0] * G, "b": [0.0] * G, "c": [0.0, 1.0, 0.0, 0.0]}, 1)
    a, b, c = batch.groups
    assert [len(g.episodes) for g in batch.groups] == [G, G, G]  # group size kept
    assert is_replayed(a.episodes[0]) and not any(is_replayed(e) for e in a.episodes[1:])
    assert a.episodes[1:] == sampled.groups[0].episodes[1:]
    assert a.returns.tolist() == [1.0, 0.0, 0.0, 0.0]  # the group now has a signal
    assert b == sampled.groups[1]  # all fail, but task b has no stored success
    assert c == sampled.groups[2]  # mixed: untouched
    assert batch.stats["replay_injections"] == 1 and batch.stats["replay_all_negative_groups"] == 2
    assert batch.stats["replayed_rows"] == 1 and batch.stats["replay_rows_share"] == pytest.approx(1 / 12)
    # the replayed episode is the stored one: its tokens and behaviour log-probs, its prompt re-encoded
    stored = s.buffer.get("a")[0]
    row = a.episodes[0].rows[0]
    assert list(row.response_ids) == stored.steps[0].response_ids
    assert list(row.sampled_logprobs) == stored.steps[0].behaviour_logprobs
    original = first.groups[0].episodes[0].rows[0]
    assert torch.equal(row.prompt.input_ids, original.prompt.input_ids)
    assert a.episodes[0].episode.meta["replay"]["iteration"] == 1
    assert batch.stats["rollout_success"] == pytest.approx(1 / 12)  # as sampled: the replayed success is not the policy's
    assert batch.stats["batch_success"] == pytest.approx(2 / 12)


def test_buffer_is_updated_from_the_batch_as_sampled(tmp_path, policy):
    s = _strategy(tmp_path)
    _play(s, policy, {"a": [1.0, 0.0, 0.0, 0.0]}, 0)
    # an all-negative group (std < 0.05, mean < 0.2) whose first episode is above the success
    # threshold: it is replaced in the batch, yet stored, and the replayed episode is not stored again
    sampled, batch = _play(s, policy, {"a": [0.15, 0.15, 0.15, 0.15]}, 1)
    assert is_replayed(batch.groups[0].episodes[0])
    kept = s.buffer.get("a")
    assert len(kept) == 1 + G  # the first success and the four sampled 0.15 episodes
    assert [e.episode_return for e in kept] == [1.0] + [0.15] * G
    assert [e.episode["episode_id"] for e in kept[1:]] == [e.episode.episode_id for e in sampled.groups[0].episodes]


def test_fifo_eviction_at_capacity(tmp_path, policy):
    s = _strategy(tmp_path, capacity=3)
    _play(s, policy, {"a": [1.0, 0.0, 0.0, 0.0]}, 0)
    _play(s, policy, {"a": [0.9, 0.8, 0.0, 0.7]}, 1)
    assert [e.episode_return for e in s.buffer.get("a")] == [0.9, 0.8, 0.7]  # the oldest (1.0) left first
    _play(s, policy, {"a": [0.0, 0.5, 0.0, 0.0]}, 2)
    assert [e.episode_return for e in s.buffer.get("a")] == [0.8, 0.7, 0.5]
    assert [e.iteration for e in s.buffer.get("a")] == [1, 1, 2]


def test_replay_false_really_turns_it_off(tmp_path, policy):
    s = _strategy(tmp_path, replay=False)
    _play(s, policy, {"a": [1.0, 0.0, 0.0, 0.0]}, 0)
    sampled, batch = _play(s, policy, {"a": [0.0] * G}, 1)
    assert batch.groups == sampled.groups and len(s.buffer) == 0
    assert batch.stats["replay_all_negative_groups"] == 1 and batch.stats["replay_injections"] == 0
    assert not (tmp_path / "replay").exists()
    with pytest.raises(ValueError, match="replay must be true or false, got 'no'"):
        _strategy(tmp_path, replay="no")
    with pytest.raises(ValueError, match="capacity must be a positive int.*got 0"):
        _strategy(tmp_path, capacity=0)


def test_images_are_kept_as_media_references_and_replay_exactly(tmp_path, policy):
    s = _strategy(tmp_path)
    first, _ = _play(s, policy, {"a": [1.0, 0.0, 0.0, 0.0]}, 0, image=True)
    stored = s.buffer.get("a")[0]
    state = json.dumps(s.state_dict())  # JSON, without pixel arrays
    assert len(state) < 20_000 and "pixel_values" not in state
    parts = [p for m in stored.steps[0].messages if isinstance(m["content"], list) for p in m["content"]]
    refs = [p["ref"] for p in parts if p.get("type") == "image"]
    assert refs and all((tmp_path / "replay" / r).exists() for r in refs)
    _, batch = _play(s, policy, {"a": [0.0] * G}, 1, image=True)
    replayed, original = batch.groups[0].episodes[0].rows[0].prompt, first.groups[0].episodes[0].rows[0].prompt
    assert original.pixel_values is not None
    assert torch.equal(replayed.pixel_values, original.pixel_values)
    assert torch.equal(replayed.image_grid_thw, original.image_grid_thw)
    assert torch.equal(replayed.input_ids, original.input_ids)
    # the injected episode is logged, marked, with its screenshot, and the viewer shows the mark
    logged = list(read_episodes(tmp_path / "replay"))
    assert len(logged) == 1 and is_replayed(logged[0]) and logged[0].steps[0].image
    assert (tmp_path / "replay" / logged[0].steps[0].image).exists()
    page = write_report(tmp_path / "replay").read_text()
    assert "replayed" in page and "stored at iteration 0" in page


def test_state_dict_round_trip(tmp_path, policy):
    s = _strategy(tmp_path)
    _play(s, policy, {"a": [1.0, 0.0, 0.5, 0.0], "b": [0.0, 0.3, 0.0, 0.0]}, 0)
    state = json.loads(json.dumps(s.state_dict()))
    t = _strategy(tmp_path)
    t.load_state_dict(state)
    assert t.state_dict() == s.state_dict()
    assert t.buffer.sizes() == {"a": 2, "b": 1}
    # the restored buffer injects the same episode as the original would
    _, from_s = _play(s, policy, {"a": [0.0] * G}, 1)
    _, from_t = _play(t, policy, {"a": [0.0] * G}, 1)
    (rs,), (rt,) = from_s.groups[0].episodes[0].rows, from_t.groups[0].episodes[0].rows
    assert (rs.response_ids, rs.sampled_logprobs, rs.reward) == (rt.response_ids, rt.sampled_logprobs, rt.reward)
    assert torch.equal(rs.prompt.input_ids, rt.prompt.input_ids)


def test_buffer_errors_name_the_value():
    buf = ReplayBuffer(capacity=2)
    entry = StoredEpisode(task_id="a", episode={}, steps=[], episode_return=0.05, iteration=0)
    with pytest.raises(ValueError, match="returns above 0.1, got 0.05"):
        buf.add(entry)
    assert buf.sample("a", np.random.default_rng(0)) is None


# -- with the trainer ------------------------------------------------------------------------------

# one-push levels: a short SFT gives the tiny model a success rate between 0 and 1, so a run has
# both groups with a success to store and all-fail groups to inject into
EASY = [["######", "#@$._#", "#____#", "#____#", "#____#", "######"],
        ["######", "#____#", "#.$@_#", "#____#", "#____#", "######"],
        ["######", "#____#", "#_@__#", "#_$__#", "#_.__#", "######"],
        ["######", "#_.__#", "#_$__#", "#_@__#", "#____#", "######"]]


def _easy_suite(path):
    records = [{"task_id": f"easy-{split}-{i}", "grid": grid, "instruction": "Push every box onto a target.",
                "solution_moves": 1, "split": split} for split in ("train", "test") for i, grid in enumerate(EASY)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def _trainer_cfg(run_dir, levels, **kw) -> TrainConfig:
    base = dict(model="tiny:tiny", run_dir=str(run_dir), sft_episodes=16, sft_epochs=30, sft_batch_size=16,
                iterations=3, tasks_per_iteration=4, group_size=3, num_envs=12, eval_tasks=2, eval_every=3,
                before_sft_eval_tasks=0, max_new_tokens=3, minibatch_size=64, torch_threads=1,
                system_prompt="Sokoban. Reply with a move.", env_kwargs={"image": False, "max_steps": 2, "levels": levels},
                rollout="replay", old_logprobs="recompute", importance_cap=2.0, estimator="grpo", normalize="mean_std")
    base.update(kw)
    return TrainConfig(**base)


def _rl(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith("time_")} for r in rows if r["phase"] == "rl"]


@pytest.mark.slow
def test_resume_equals_uninterrupted_with_replay_on(tmp_path):
    from stepgym.trainers.trainer import Trainer

    levels = _easy_suite(tmp_path / "easy.jsonl")
    full = Trainer(_trainer_cfg(tmp_path / "full", levels), progress=False)
    full.run()
    full.close()
    rl = _rl(tmp_path / "full")
    assert sum(r["replay_injections"] for r in rl[1:]) > 0, rl  # replay was at work after the cut
    played = [b["env_steps"] - a["env_steps"] for a, b in zip([{"env_steps": 0}, *rl], rl)]
    in_batch = [round(r["episode_length"] * 12) for r in rl]  # 4 tasks x 3 episodes, replayed ones included
    assert played == [n - r["replayed_rows"] for n, r in zip(in_batch, rl)]  # replayed rows cost no env step
    assert all(0 <= r["replay_rows_share"] < 1 for r in rl)

    cut = Trainer(_trainer_cfg(tmp_path / "cut", levels), progress=False)
    cut.run(stop_after=1)
    cut.close()
    resumed = Trainer.resume(tmp_path / "cut", progress=False)
    assert resumed.strategy.buffer.sizes() == cut.strategy.buffer.sizes()
    resumed.run()
    resumed.close()
    assert _rl(tmp_path / "cut") == rl
    # the buffers hold the same steps (episode ids are random and model paths name the run dir)
    contents = lambda t: {k: [(e.steps, e.episode_return, e.iteration) for e in t.strategy.buffer.get(k)]  # noqa: E731
                          for k in t.strategy.buffer.sizes()}
    assert contents(resumed) == contents(full) and len(full.strategy.buffer) > 0
    a, b = full.policy.model.state_dict(), resumed.policy.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the injections' log holds each injection once, as the uninterrupted run's does
    marks = lambda d: [{k: v for k, v in e.meta["replay"].items() if k != "source_episode"}  # noqa: E731
                       for e in read_episodes(d / "replay")]
    assert marks(tmp_path / "cut") == marks(tmp_path / "full")


def test_importance_weights_of_replayed_rows_against_hand_values(tmp_path):
    from stepgym.trainers.losses import Totals
    from stepgym.trainers.trainer import Trainer

    cfg = TrainConfig(model="tiny:tiny", run_dir=str(tmp_path), sft_episodes=0, iterations=0, num_envs=1,
                      env_kwargs={"image": False, "max_steps": 2}, old_logprobs="recompute", importance_cap=2.0,
                      estimator="grpo", torch_threads=1, dual_clip=None)
    trainer = Trainer(cfg, progress=False)
    try:
        prompts = trainer.policy.encode([_input("a", 0), _input("a", 1)])
        rows = [StepRow(prompt=p, response_ids=(11, 12, 13), sampled_logprobs=(0.0,) * 3, reward=0.0,
                        state_key="s", step_index=0, action_valid=True) for p in prompts]
        old = trainer.score(rows)  # pi_old: the current policy's log-probs
        # row 0 was sampled by this policy (mu = pi_old); row 1 is replayed, its behaviour log-probs
        # mu = pi_old + d with d = (-ln 3, ln 2, 0): pi_old / mu = (3, 0.5, 1), capped at 2 -> (2, 0.5, 1)
        d = torch.tensor([-np.log(3.0), np.log(2.0), 0.0])
        rows = [replace_row(rows[0], old[0]), replace_row(rows[1], old[1] + d)]
        adv = np.array([1.0, 0.5])
        out, stats = trainer._part_loss(rows, np.array([0, 1]), adv, old, Totals(6.0, 2.0))
    finally:
        trainer.close()
    assert stats["is_weight_max"] == pytest.approx(2.0, rel=1e-5)
    assert stats["is_weight_mean"] == pytest.approx((1 + 1 + 1 + 2 + 0.5 + 1) / 6, rel=1e-5)
    # the ratio pi / pi_old is 1 before the update, so each token's loss is -A * w (token mean over 6)
    expected = -(1.0 * 3 + 0.5 * (2 + 0.5 + 1)) / 6
    assert float(out.pg_loss) == pytest.approx(expected, rel=1e-5)


def replace_row(row: StepRow, logprobs: torch.Tensor) -> StepRow:
    from dataclasses import replace

    return replace(row, sampled_logprobs=tuple(float(x) for x in logprobs))


def test_task_filter_knows_desktop_and_mobile_infeasible_tasks():
    from stepgym.envs.tasks import Task
    from stepgym.trainers.trainer import is_infeasible

    assert is_infeasible(Task("d", "x", data={"evaluator": {"func": "infeasible"}}))  # Desktop-v0 (OSWorld)
    assert is_infeasible(Task("m", "x", data={"infeasible": True}))  # Mobile-v0 templates
    assert not is_infeasible(Task("ok", "x", data={"evaluator": {"func": "exact_match"}, "infeasible": False}))


def _mobile_smoke_cfg(run_dir, **kw) -> TrainConfig:
    from stepgym.trainers.config import preset

    small = dict(model="tiny:tiny", run_dir=str(run_dir), sft_episodes=6, sft_epochs=1, iterations=2, eval_every=2,
                 tasks_per_iteration=2, group_size=2, num_envs=4, eval_tasks=2, torch_threads=1, importance_cap=2.0,
                 env_kwargs={"templates": ["ClockToggleAlarm", "SettingsToggle"], "param_split": "train", "max_steps": 3})
    return preset("mobile-arpo-tiny", **{**small, **kw})


@pytest.mark.slow
def test_two_iterations_of_arpo_on_mobile_with_chromium(tmp_path):
    from stepgym.trainers.trainer import Trainer

    trainer = Trainer(_mobile_smoke_cfg(tmp_path), progress=False)
    try:
        results = trainer.run()
    finally:
        trainer.close()
    rl = _rl(tmp_path)
    assert [r["iteration"] for r in rl] == [0, 1]
    for key in ("replay_injections", "replay_all_negative_groups", "replay_rows_share", "replay_buffer_episodes",
                "rollout_success", "env_steps", "invalid_action_rate"):
        assert key in rl[0], key
    assert rl[-1]["env_steps"] > 0 and "final" in results
    # the SFT demos are screenshots of the phone, and the model was shown them (small, as configured)
    demo = next(read_episodes(tmp_path / "demos"))
    assert demo.steps[0].image and (tmp_path / "demos" / demo.steps[0].image).exists()
    held_out = list(read_episodes(tmp_path / "eval" / "final" if (tmp_path / "eval" / "final").exists()
                                  else tmp_path / "eval" / "iteration_1"))
    assert held_out and all(e.env_id == "stepgym/Mobile-v0" for e in held_out)


def test_mobile_param_split_separates_template_parameters():
    from stepgym.envs.mobile.env import MobileEnv, param_split_of

    drawn = [{"hour": h, "minute": m} for h in range(24) for m in (0, 15, 30, 45)]
    splits = [param_split_of("ClockAddAlarm", p) for p in drawn]
    assert set(splits) == {"train", "test"} and 0.1 < splits.count("test") / len(splits) < 0.4
    assert splits == [param_split_of("ClockAddAlarm", dict(reversed(list(p.items())))) for p in drawn]  # key order
    with pytest.raises(ValueError, match="param_split must be one of .*got 'val'"):
        MobileEnv(param_split="val")
