"""Typed rollout records: returns computed once, batches that stages read and never change,
groups that share their task instance, rows that carry exactly what the sampler produced."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from stepgym.agents.hf import GenerationSettings, HFPolicy, PromptInputs
from stepgym.agents.prompting import PromptConfig
from stepgym.envs.pool import EnvPool
from stepgym.records import Episode
from stepgym.trainers.rollout import (
    EpisodeRollout,
    GroupSpec,
    RolloutBatch,
    RolloutGroup,
    SamplingPolicy,
    StepRow,
    is_informative,
    play_groups,
)


def _row(reward: float, key: str = "s", valid: bool = True) -> StepRow:
    return StepRow(prompt=PromptInputs(torch.tensor([1, 2])), response_ids=(3,), sampled_logprobs=(-0.5,),
                   reward=reward, state_key=key, step_index=0, action_valid=valid)


def _episode(*rewards: float, key: str = "s") -> EpisodeRollout:
    return EpisodeRollout(Episode("env", "t", 0, "go"), tuple(_row(r, key) for r in rewards))


def _batch() -> RolloutBatch:
    mixed = RolloutGroup(GroupSpec("g0", "t0", 1), (_episode(0.0, 1.0), _episode(0.0, -0.1, 0.0)))
    equal = RolloutGroup(GroupSpec("g1", "t1", 2), (_episode(1.0), _episode(0.0, 1.0)))
    return RolloutBatch((mixed, equal))


def test_returns_are_computed_once_from_the_rows():
    ep = _episode(0.0, -0.1, 1.0)
    assert ep.episode_return == pytest.approx(0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ep.episode_return = 5.0  # type: ignore[misc]
    assert list(_batch().groups[0].returns) == pytest.approx([1.0, -0.1])


def test_arrays_are_episode_contiguous_in_group_order():
    a = _batch().arrays
    assert a.episode_index.tolist() == [0, 0, 1, 1, 1, 2, 3, 3]
    assert a.group_index.tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert a.episode_group.tolist() == [0, 0, 1, 1]
    assert a.episode_returns == pytest.approx([1.0, -0.1, 1.0, 1.0])
    assert a.rewards == pytest.approx([0.0, 1.0, 0.0, -0.1, 0.0, 1.0, 0.0, 1.0])


def test_filter_returns_a_new_batch_and_leaves_the_old_one_alone():
    batch = _batch()
    before = batch.arrays.episode_index.copy()
    kept = batch.filter(is_informative)  # the second group's returns are all 1: nothing to learn
    assert [g.group_id for g in kept.groups] == ["g0"]
    assert kept.arrays.episode_index.tolist() == [0, 0, 1, 1, 1]
    assert [g.group_id for g in batch.groups] == ["g0", "g1"]
    assert np.array_equal(batch.arrays.episode_index, before)
    assert batch.num_steps == 8 and kept.num_steps == 5


def test_a_lone_episode_is_not_informative():
    assert not is_informative(RolloutGroup(GroupSpec("g", "t", 0), (_episode(1.0),)))
    assert is_informative(RolloutGroup(GroupSpec("g", "t", 0), (_episode(1.0), _episode(0.0))))


def test_infra_failures_are_marked_from_the_episode_record():
    ep = EpisodeRollout(Episode("env", "t", 0, "go", meta={"error": "worker died"}), (_row(0.0),))
    assert ep.infra_failure and not _episode(0.0).infra_failure


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory):
    from stepgym.agents.tiny import build_tiny_vlm

    d = build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "m", size="tiny", seed=0)
    return HFPolicy(d, config=GenerationSettings(max_new_tokens=3),
                    prompt=PromptConfig(system_prompt="Sokoban. Reply with a move."), device="cpu")


def test_play_groups_on_sokoban_with_a_real_model(tiny_policy):
    pool = EnvPool("stepgym/Sokoban-v0", num_envs=4, env_kwargs={"image": False, "max_steps": 4})
    try:
        specs = [GroupSpec("a", "sokoban_6x6_1box-train-0001", 11), GroupSpec("b", None, 12)]
        sampler = SamplingPolicy(tiny_policy, GenerationSettings(max_new_tokens=3, seed=5))
        batch = play_groups(pool, sampler, specs, 3, invalid_action_penalty=0.25)
    finally:
        pool.close()
    assert [g.group_id for g in batch.groups] == ["a", "b"] and all(len(g.episodes) == 3 for g in batch.groups)
    for group in batch.groups:
        # every episode of a group plays the same task instance: same task, same first observation
        firsts = {e.episode.steps[0].observation for e in group.episodes}
        assert len({e.episode.task_id for e in group.episodes}) == 1 and len(firsts) == 1
        for e in group.episodes:
            assert len(e.rows) == e.episode.num_steps
            expected = sum(s.reward - (0.25 if not s.action_valid else 0.0) for s in e.episode.steps)
            assert e.episode_return == pytest.approx(expected)
            for row, step in zip(e.rows, e.episode.steps):
                assert list(row.response_ids) == step.policy["token_ids"]
                assert row.state_key == step.state_key
    assert batch.groups[0].episodes[0].episode.task_id == "sokoban_6x6_1box-train-0001"
    # the rows keep exactly what the sampler scored: teacher forcing gives the same log-probs
    rows = batch.rows[:6]
    lps, _ = tiny_policy.sequence_logprobs([r.prompt for r in rows], [list(r.response_ids) for r in rows])
    for lp, r in zip(lps, rows):
        assert torch.allclose(lp.detach(), torch.tensor(r.sampled_logprobs), atol=1e-4)


def test_no_effect_penalty_hits_actions_that_left_the_state_unchanged():
    from stepgym.trainers.rollout import _penalise_no_effect

    rows = [_row(0.0, "a"), _row(0.0, "a"), _row(0.0, "b", valid=False), _row(0.0, "b"), _row(1.0, "b")]
    out = _penalise_no_effect(rows, 0.05)
    # a -> a: no effect; a -> b: moved; an invalid action is the invalid penalty's business; the
    # last step's next state is unknown
    assert [r.reward for r in out] == pytest.approx([-0.05, 0.0, 0.0, -0.05, 1.0])
    assert _penalise_no_effect(rows, 0.0) == tuple(rows)


def test_the_readme_estimator_example_registers_and_runs():
    """README "Training" shows adding an estimator in one file; that code must work as printed."""
    import re
    from pathlib import Path

    from stepgym.trainers.estimators import ESTIMATORS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ESTIMATORS.register" in b)
    try:
        exec(compile(code, "README.md", "exec"), {})
        adv = ESTIMATORS.get("positive_only")(_batch(), None)
    finally:
        ESTIMATORS.unregister("positive_only")
    returns = _batch().arrays.episode_returns
    assert adv.tolist() == [float(returns[e] > 0) for e in _batch().arrays.episode_index]
