"""ARPO's branching rollouts: the branching rule, the budget, the recorded tree, hard attribution,
GiGPO on shared prefixes, and a resumed run with branching that equals an uninterrupted one."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stepgym.agents.base import AgentAction
from stepgym.agents.hf import GenerationSettings, PromptInputs
from stepgym.envs.pool import EnvPool
from stepgym.records import Episode, Step
from stepgym.trainers.advantages import gigpo_advantages
from stepgym.trainers.branching import BranchingRollouts, branch_of, branch_probability
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.rollout import EpisodeRollout, GroupSpec, RolloutBatch, RolloutGroup, StepRow
from stepgym.trainers.strategy import ROLLOUTS, RolloutContext
from stepgym.trainers.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# -- the rule -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("h", "h0", "tau", "beta", "p"), [
    (0.4, 0.4, 0.5, 0.2, 0.5),  # as uncertain as at the start: tau
    (0.9, 0.4, 0.5, 0.2, 0.6),  # 0.5 + 0.2 * 0.5
    (0.1, 0.6, 0.5, 0.2, 0.4),  # more certain than at the start: less likely
    (9.0, 0.0, 0.5, 0.2, 1.0),  # clipped at 1
    (0.0, 9.0, 0.5, 0.2, 0.0),  # clipped at 0
    (0.3, 0.1, 0.0, 1.0, 0.2),
])
def test_branch_probability_hand_values(h, h0, tau, beta, p):
    assert branch_probability(h, h0, tau, beta) == pytest.approx(p)


def test_options_are_checked_by_name():
    cfg = TrainConfig(group_size=4)
    with pytest.raises(ValueError, match="initial_rollouts must be an int in \\[1, group_size=4\\], got 5"):
        BranchingRollouts(cfg, initial_rollouts=5)
    with pytest.raises(ValueError, match="branch_at must be one of"):
        BranchingRollouts(cfg, initial_rollouts=2, branch_at="sometimes")
    with pytest.raises(ValueError, match="attribution='hard' and estimator='arpo_hard' go together"):
        BranchingRollouts(cfg, initial_rollouts=2, attribution="hard")
    with pytest.raises(ValueError, match="go together"):
        BranchingRollouts(TrainConfig(group_size=4, estimator="arpo_hard"), initial_rollouts=2)
    with pytest.raises(TypeError):
        ROLLOUTS.get("branching")(cfg, bogus=1)
    assert "arpo_hard" in ESTIMATORS and "branching" in ROLLOUTS


# -- the loop with a scripted policy ----------------------------------------------------------------
class ScriptedEntropy:
    """The oracle's actions with a scripted entropy per step (`entropy(step_index)`), shaped as an
    HFPolicy for `SamplingPolicy`: the strategy's bookkeeping is under test, not a model."""

    name = "scripted-entropy"

    def __init__(self, pool: EnvPool, entropy) -> None:
        self.pool, self.entropy = pool, entropy

    def encode(self, inputs):
        return inputs

    def generate(self, inputs, settings, call=0):
        texts = self.pool.call("oracle_action", [i.env_index for i in inputs])
        return [AgentAction(text=t, token_ids=[1], logprobs=[-0.1], prompt_inputs=PromptInputs(torch.tensor([1])),
                            meta={"entropy_norm": self.entropy(len(i.history))}) for i, t in zip(inputs, texts)]

    def metadata(self):
        return {"name": self.name}

    def sampling_meta(self, settings):
        return {}


def _collect(env_id, entropy, *, n=6, num_envs=16, tasks=("a", "b"), task_ids=None, seed=3, estimator="grpo",
             env_kwargs=None, **options):
    cfg = TrainConfig(group_size=n, estimator=estimator)
    strategy = BranchingRollouts(cfg, **options)
    with EnvPool(env_id, num_envs=num_envs, env_kwargs=env_kwargs or {}) as pool:
        ctx = RolloutContext(pool, ScriptedEntropy(pool, entropy), GenerationSettings(seed=seed), cfg, 0)
        ids = task_ids or [None] * len(tasks)
        return strategy.collect(ctx, [GroupSpec(g, t, 10 + k) for k, (g, t) in enumerate(zip(tasks, ids))])


def _kinds(group):
    return [e.episode.meta["rollout"] for e in group.episodes]


@pytest.mark.parametrize(("tau", "beta", "num_envs"), [(1.0, 0.0, 16), (0.5, 0.2, 16), (-1.0, 0.0, 16), (1.0, 0.0, 5)])
def test_budget_is_never_exceeded_and_top_ups_fill_it(tau, beta, num_envs):
    batch = _collect("stepgym/ToolUse-v0", lambda t: 0.1 * t, num_envs=num_envs, initial_rollouts=2,
                     tau=tau, beta=beta)
    for group in batch.groups:
        kinds = _kinds(group)
        assert len(group.episodes) == 6  # exactly the budget, whatever happened
        assert kinds[:2] == ["initial", "initial"]
        if tau < 0:  # never branches: every extra rollout is a fresh one, started when none is left
            assert kinds[2:] == ["top-up"] * 4
    if tau < 0:
        assert batch.stats["branches"] == 0 and batch.stats["top_ups"] == 8
    elif num_envs >= 12:
        assert batch.stats["branches"] > 0 and batch.stats["branches_skipped"] == 0
    else:  # 5 envs for 2 tasks: branches that find no free env are skipped and counted
        assert batch.stats["branches_skipped"] > 0
    assert batch.stats["branches"] + batch.stats["top_ups"] == 8


def test_branches_fork_after_tool_responses_and_record_the_tree():
    batch = _collect("stepgym/ToolUse-v0", lambda t: 0.1 * t, initial_rollouts=2, tau=1.0, beta=0.0)
    saw_branch = False
    for group in batch.groups:
        by_id = {e.episode.episode_id: e.episode for e in group.episodes}
        for e in group.episodes:
            parent_id, t = branch_of(e.episode)
            if parent_id is None:
                assert e.episode.meta["rollout"] in ("initial", "top-up") and t == 0
                continue
            saw_branch = True
            parent = by_id[parent_id]  # the parent is in the same group
            assert t >= 1 and parent.steps[t - 1].parsed_action.get("tool_calls")  # after a tool response
            assert [s.action for s in e.episode.steps[:t]] == [s.action for s in parent.steps[:t]]
            # the fork saw what its parent saw at the branch step: the same env state
            assert e.episode.steps[t].observation == parent.steps[t].observation
            assert e.episode.steps[t].state_key == parent.steps[t].state_key
            assert e.rows[:t] == group.episodes[[x.episode.episode_id for x in group.episodes].index(parent_id)].rows[:t]
            assert e.episode.success  # the oracle from a forked state still solves the task
    assert saw_branch
    # the policy took each shared step once: the steps it took are the rollouts' own steps
    own = sum(e.episode.num_steps - branch_of(e.episode)[1] for g in batch.groups for e in g.episodes)
    assert batch.stats["agent_steps"] == own < batch.num_steps


def test_any_step_branching_on_sokoban_and_entropy_raises_the_rate():
    """Rising entropy (H - H0 > 0) branches more often than flat entropy at the same tau."""
    kw = dict(n=8, initial_rollouts=2, tau=0.3, branch_at="any_step", env_kwargs={"image": False})
    flat = _collect("stepgym/Sokoban-v0", lambda t: 0.5, beta=0.0, **kw)
    rising = _collect("stepgym/Sokoban-v0", lambda t: 0.5 + 2.0 * t, beta=0.2, **kw)
    assert flat.stats["branch_probability"] == pytest.approx(0.3)
    assert rising.stats["branch_probability"] > 0.5
    assert rising.stats["branches"] >= flat.stats["branches"]
    for group in flat.groups:
        for e in group.episodes:
            parent_id, t = branch_of(e.episode)
            if parent_id is not None:
                assert t >= 1  # never before the first env step


def test_hard_attribution_holds_shared_rows_once():
    batch = _collect("stepgym/ToolUse-v0", lambda t: 0.1, initial_rollouts=2, tau=1.0, beta=0.0,
                     attribution="hard", estimator="arpo_hard")
    soft = _collect("stepgym/ToolUse-v0", lambda t: 0.1, initial_rollouts=2, tau=1.0, beta=0.0)
    for hard_g, soft_g in zip(batch.groups, soft.groups):
        assert len(hard_g.episodes) == len(soft_g.episodes)
        for h, s in zip(hard_g.episodes, soft_g.episodes):
            _, t = branch_of(h.episode)
            assert [r.step_index for r in h.rows] == list(range(t, h.episode.num_steps))
            assert h.episode_return == pytest.approx(s.episode_return)  # prefix_return keeps the full return
    assert batch.num_steps < soft.num_steps


# -- advantages over trees -------------------------------------------------------------------------
def _row(step: int, reward: float = 0.0, key: str | None = None) -> StepRow:
    return StepRow(prompt=PromptInputs(torch.tensor([1])), response_ids=(1,), sampled_logprobs=(-0.1,), reward=reward,
                   state_key=key or f"s{step}", step_index=step, action_valid=True)


def _ep(eid: str, steps: int, parent: str | None = None, at: int = 0) -> Episode:
    meta = {"rollout": "branch", "branch": {"parent": parent, "step": at}} if parent else {"rollout": "initial"}
    return Episode("env", "t", 0, "go", steps=[Step(i, "", "") for i in range(steps)], meta=meta, episode_id=eid)


def test_hard_attribution_on_a_hand_built_tree():
    """Tree: A (3 steps, R=1); B forks A at step 1 (R=0); C forks B at step 2 (R=1); D is a fresh
    rollout (R=0). Hard layout: B holds steps 1-2, C holds step 2. GRPO with normalize='mean'
    gives A=+.5, B=-.5, C=+.5, D=-.5. A's step 0 is on A, B, C: mean +1/6; A's steps 1-2 on A only;
    B's step 1 on B and C: 0; B's step 2 on B only; C's step 2 on C; D's on D."""
    group = RolloutGroup(GroupSpec("g", "t", 0), (
        EpisodeRollout(_ep("A", 3), (_row(0), _row(1), _row(2, 1.0))),
        EpisodeRollout(_ep("B", 3, "A", 1), (_row(1), _row(2, 0.0)), prefix_return=0.0),
        EpisodeRollout(_ep("C", 3, "B", 2), (_row(2, 1.0),), prefix_return=0.0),
        EpisodeRollout(_ep("D", 2), (_row(0), _row(1, 0.0))),
    ))
    adv = ESTIMATORS.get("arpo_hard")(RolloutBatch((group,)), TrainConfig(normalize="mean", estimator="arpo_hard"))
    np.testing.assert_allclose(adv, [1 / 6, 0.5, 0.5, 0.0, -0.5, 0.5, -0.5, -0.5])
    # a soft batch (branches holding their prefix rows) is refused with the fix named
    soft = RolloutGroup(GroupSpec("g", "t", 0), (group.episodes[0], EpisodeRollout(_ep("B", 3, "A", 1),
                                                                                   (_row(0), _row(1), _row(2)))))
    with pytest.raises(ValueError, match="attribution': 'hard'"):
        ESTIMATORS.get("arpo_hard")(RolloutBatch((soft,)), TrainConfig(estimator="arpo_hard"))


def test_gigpo_step_groups_stay_exact_with_shared_prefixes():
    """Soft layout: a shared step appears once per rollout through it, each copy with its own
    rollout's discounted return, so its step group is the one of independent episodes that
    happen to share it. Hand check: A = s0 -> s1 -> s2 (reward 1 at the end), B forks A at step
    1 and ends s1 -> x (reward 0). Step group s0: returns [.95^2, .95 * 0] -> normalised by
    the mean: [+.45125, -.45125]; s1: [.95, 0] -> [+.475, -.475]; s2 and x are singletons."""
    a = EpisodeRollout(_ep("A", 3), (_row(0), _row(1), _row(2, 1.0)))
    b = EpisodeRollout(_ep("B", 3, "A", 1), (a.rows[0], _row(1, 0.0, key="s1"), _row(2, 0.0, key="x")))
    batch = RolloutBatch((RolloutGroup(GroupSpec("g", "t", 0), (a, b)),))
    arr = batch.arrays
    step = gigpo_advantages(arr.rewards, arr.episode_index, arr.group_index, arr.state_keys, gamma=0.95,
                            omega=1.0, normalize="mean") - np.repeat([0.5, -0.5], 3)
    np.testing.assert_allclose(step, [0.45125, 0.475, 0.0, -0.45125, -0.475, 0.0], atol=1e-9)
    # the same as two independent episodes with copies of the shared row
    copies = RolloutBatch((RolloutGroup(GroupSpec("g", "t", 0), (
        EpisodeRollout(Episode("env", "t", 0, "go"), a.rows),
        EpisodeRollout(Episode("env", "t", 0, "go"), (_row(0),) + b.rows[1:]))),))
    cfg = TrainConfig(normalize="mean")
    np.testing.assert_allclose(ESTIMATORS.get("gigpo")(batch, cfg), ESTIMATORS.get("gigpo")(copies, cfg))


# -- with the trainer ------------------------------------------------------------------------------
def _cfg(run_dir, **kw) -> TrainConfig:
    base = dict(model="tiny:tiny", run_dir=str(run_dir), sft_episodes=0, iterations=2, tasks_per_iteration=2,
                group_size=4, num_envs=8, eval_tasks=2, eval_every=2, max_new_tokens=3, minibatch_size=32,
                system_prompt="Sokoban. Reply with a move.", env_kwargs={"image": False, "max_steps": 4},
                rollout="branching", estimator="grpo",
                rollout_kwargs={"initial_rollouts": 2, "branch_at": "any_step", "tau": 0.6})
    base.update(kw)
    return TrainConfig(**base)


def _rl_rows(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    drop = {"time_rollout", "time_update", "time_total", "time_fork"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows if r.get("phase") == "rl"]


@pytest.mark.slow
@pytest.mark.parametrize("hard", [False, True])
def test_resume_with_branching_equals_uninterrupted(tmp_path, hard):
    kw = {}
    if hard:
        kw = dict(estimator="arpo_hard", rollout_kwargs={"initial_rollouts": 2, "branch_at": "any_step", "tau": 0.6,
                                                         "attribution": "hard"})
    whole = Trainer(_cfg(tmp_path / "whole", **kw), progress=False)
    whole.run()
    whole.close()
    cut = Trainer(_cfg(tmp_path / "cut", **kw), progress=False)
    cut.run(stop_after=1)
    cut.close()
    resumed = Trainer.resume(tmp_path / "cut", progress=False)
    resumed.run()
    resumed.close()
    rows = _rl_rows(tmp_path / "whole")
    assert len(rows) == 2 and rows == _rl_rows(tmp_path / "cut")
    assert sum(r["branches"] for r in rows) > 0  # the run did branch (with the real tiny model's entropies)


def test_recorded_rollouts_show_as_trees_in_the_viewer(tmp_path):
    from stepgym.episodes.io import read_episodes
    from stepgym.episodes.viewer import tree_order, write_report

    _collect("stepgym/ToolUse-v0", lambda t: 0.1, initial_rollouts=2, tau=1.0, beta=0.0, record_dir=str(tmp_path))
    eps = list(read_episodes(tmp_path / "iteration_0000"))
    assert len(eps) == 12 and any(branch_of(e)[0] for e in eps)
    order = tree_order(eps)
    seen: dict[str, int] = {}
    for e, depth in order:  # every branch comes after its parent, one level deeper
        parent, _ = branch_of(e)
        assert (depth == 0) if parent is None else (depth == seen[parent] + 1)
        seen[e.episode_id] = depth
    page = write_report(tmp_path / "iteration_0000").read_text()
    child = next(e for e, d in order if d)
    parent, step = branch_of(child)
    assert f'href="#ep-{parent}"' in page and f'id="ep-{parent}"' in page
    assert f"at step {step} (steps before it shared)" in page and 'class="st shared"' in page
    assert page.index(f'id="ep-{parent}"') < page.index(f'id="ep-{child.episode_id}"')
    assert "margin-left:24px" in page


def _sokoban_with(snapshot):
    from stepgym.envs.sokoban import SokobanEnv

    class Env(SokobanEnv):
        def snapshot(self):
            return snapshot(self, SokobanEnv.snapshot(self))

    return lambda: Env(image=False)


def _collect_fn(env_fn, **options):
    cfg = TrainConfig(group_size=4, estimator="grpo")
    with EnvPool(env_fn=env_fn, num_envs=8) as pool:
        ctx = RolloutContext(pool, ScriptedEntropy(pool, lambda t: 0.1), GenerationSettings(seed=1), cfg, 0)
        return BranchingRollouts(cfg, initial_rollouts=1, tau=1.0, beta=0.0, branch_at="any_step", **options).collect(
            ctx, [GroupSpec("a", "sokoban_6x6_1box-train-0003", 4)])


def test_failed_forks_are_skipped_and_wrong_forks_stop_the_run():
    def lost(env, snap):
        raise RuntimeError("the env's worker went away")

    batch = _collect_fn(_sokoban_with(lost))
    assert batch.stats["fork_failures"] > 0 and batch.stats["branches"] == 0
    assert len(batch.groups[0].episodes) == 4 and _kinds(batch.groups[0]) == ["initial"] + ["top-up"] * 3

    def wrong(env, snap):  # a snapshot of another board: the fork's check must catch it
        snap.state["player"] = (snap.state["player"][0], snap.state["player"][1] + 9)
        return snap

    from stepgym.envs.fork import ForkMismatch
    with pytest.raises(ForkMismatch, match="state key"):
        _collect_fn(_sokoban_with(wrong))


def test_initial_entropy_is_taken_afresh_every_iteration():
    """ARPO's code keeps H0 per rollout slot across training steps. Here iteration 1's policy is
    3 nats/log|V| more uncertain throughout than iteration 0's: with H0 taken afresh, H - H0 is
    the same and so are the branching decisions; a stale H0 would clip every probability to 1."""
    cfg = TrainConfig(group_size=6, estimator="grpo")
    strategy = BranchingRollouts(cfg, initial_rollouts=2, tau=0.5, beta=0.5, branch_at="any_step")
    stats = []
    with EnvPool("stepgym/Sokoban-v0", num_envs=12, env_kwargs={"image": False}) as pool:
        for it, shift in enumerate((0.0, 3.0)):
            policy = ScriptedEntropy(pool, lambda t, d=shift: d + 0.5 + 0.1 * t)
            ctx = RolloutContext(pool, policy, GenerationSettings(seed=3), cfg, it)
            stats.append(strategy.collect(ctx, [GroupSpec("a", "sokoban_6x6_1box-train-0003", 7)]).stats)
    assert 0.5 < stats[0]["branch_probability"] < 1.0
    for key in ("branch_probability", "branches", "top_ups"):
        assert stats[1][key] == stats[0][key]
    assert strategy.state_dict() == {}


def test_env_step_budget_counts_the_steps_taken_not_the_rows_trained(tmp_path):
    """A shared prefix is one step of the policy however many soft rollouts train on it, so
    branching and plain groups compare at equal experience."""
    trainer = Trainer(_cfg(tmp_path, iterations=1, eval_tasks=1, filter_groups=False), progress=False)
    trainer.run()
    trainer.close()
    (row,) = _rl_rows(tmp_path)
    assert row["branches"] > 0
    assert row["env_steps"] == row["agent_steps"] == trainer.state["env_steps"]
    assert row["agent_steps"] < row["rows_trained"]  # the soft batch's rows: shared ones once per rollout
