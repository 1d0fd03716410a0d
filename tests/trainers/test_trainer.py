"""A short training run on a tiny model: SFT lowers the loss, RL changes the weights, resume is exact."""

from __future__ import annotations

import json

import pytest
import torch

from stepgym.trainers.config import TrainConfig, preset
from stepgym.trainers.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _cfg(run_dir, **kw) -> TrainConfig:
    base = dict(model="tiny:tiny", run_dir=str(run_dir), sft_episodes=12, sft_epochs=3, sft_batch_size=16,
                iterations=2, tasks_per_iteration=2, group_size=4, num_envs=8, eval_tasks=4, eval_every=2,
                max_new_tokens=3, minibatch_size=32, system_prompt="Sokoban. Reply with a move.",
                env_kwargs={"image": False, "max_steps": 6})
    base.update(kw)
    return TrainConfig(**base)


def _rl_rows(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    drop = {"time_rollout", "time_update", "time_total"}
    return [{k: v for k, v in r.items() if k not in drop} for r in rows]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    trainer = Trainer(_cfg(run_dir), progress=False)
    trainer.run(stop_after=0)  # SFT and its evaluation only
    after_sft = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
    results = trainer.run()
    trainer.close()
    return run_dir, after_sft, trainer, results


def test_sft_lowers_the_loss(finished_run):
    run_dir, *_ = finished_run
    sft = [r for r in _rl_rows(run_dir) if r["phase"] == "sft"]
    assert len(sft) == 3
    assert sft[-1]["sft_loss"] < sft[0]["sft_loss"]
    assert all(0 <= r["sft_sure"] <= 1 for r in sft)  # what it means: test_sft_step_counts_the_examples_...


def test_rl_changes_parameters_and_logs(finished_run):
    run_dir, after_sft, trainer, results = finished_run
    rl = [r for r in _rl_rows(run_dir) if r["phase"] == "rl"]
    assert [r["iteration"] for r in rl] == [0, 1]
    trained = [r for r in rl if r["rows_trained"] > 0]
    assert trained, "no iteration trained on any row: the test config gives RL nothing to learn from"
    after = trainer.policy.model.state_dict()
    assert any(not torch.equal(after_sft[k], after[k]) for k in after_sft)  # RL itself moved the weights
    for key in ("clip_fraction", "approx_kl", "entropy", "adv_abs_mean", "logprob_mismatch", "grad_norm"):
        assert key in trained[0], key
    assert trained[0]["adv_abs_mean"] > 0 and trained[0]["logprob_mismatch"] < 1e-3
    for key in ("rollout_success", "episode_length", "env_steps", "groups_dropped", "infra_failures"):
        assert key in rl[0], key
    assert set(results) >= {"before_sft", "after_sft", "final"}
    assert (run_dir / "learning_curve.png").stat().st_size > 1000
    assert (run_dir / "checkpoint" / "model" / "config.json").exists()
    assert not (run_dir / "checkpoint.tmp").exists()
    assert (run_dir / "eval" / "iteration_1" / "episodes.jsonl").exists()


def test_resume_equals_uninterrupted(finished_run, tmp_path):
    run_dir, *_ = finished_run
    cut = Trainer(_cfg(tmp_path), progress=False)
    cut.run(stop_after=1)
    cut.close()
    resumed = Trainer.resume(tmp_path, progress=False)
    resumed.run()
    resumed.close()
    assert _rl_rows(tmp_path) == _rl_rows(run_dir)
    a = Trainer.resume(run_dir, progress=False).policy.model.state_dict()
    b = resumed.policy.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_finished_run_resumed_with_more_iterations_equals_the_longer_run(finished_run, tmp_path):
    run_dir, *_ = finished_run
    short = Trainer(_cfg(tmp_path, iterations=1), progress=False)
    short.run()  # finished: its last iteration (0) evaluated and checkpointed
    short.close()
    longer = Trainer.resume(tmp_path, overrides={"iterations": 2}, progress=False)
    longer.run()
    longer.close()

    def rl(d):  # the short run's extra evaluation at its old last iteration aside
        return [{k: v for k, v in r.items() if k != "eval_success"} for r in _rl_rows(d) if r["phase"] == "rl"]

    assert rl(tmp_path) == rl(run_dir) and len(rl(tmp_path)) == 2
    a = Trainer.resume(run_dir, progress=False).policy.model.state_dict()
    b = longer.policy.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_config_errors_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="group_size=0"):
        TrainConfig(group_size=0)
    with pytest.raises(ValueError, match="unknown TrainConfig fields \\['bogus'\\]"):
        TrainConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer.resume(tmp_path)


def test_evaluation_on_another_env_and_positive_only_advantages(tmp_path):
    # train on 6x6 levels, score on the 8x8 env (its own constructor arguments); with negative
    # advantages weighted 0 no trained row pushes its tokens down
    trainer = Trainer(_cfg(tmp_path, sft_episodes=0, eval_env_id="stepgym/Sokoban-8x8-v0",
                           eval_env_kwargs={"image": False, "max_steps": 4}, negative_advantage_weight=0.0),
                      progress=False)
    trainer.run()
    trainer.close()
    from stepgym.episodes.io import read_episodes

    evaluated = list(read_episodes(tmp_path / "eval" / "iteration_1"))
    assert len(evaluated) == 4 and all("8x8" in e.task_id for e in evaluated)
    assert all(len(e.steps) <= 4 for e in evaluated)
    trained = [r for r in _rl_rows(tmp_path) if r["phase"] == "rl" and r["rows_trained"]]
    assert trained and all(r["adv_negative"] == 0.0 and r["adv_positive"] > 0 for r in trained)
    with pytest.raises(ValueError, match="negative_advantage_weight=-0.5"):
        TrainConfig(negative_advantage_weight=-0.5)


def test_env_step_budget_stops_rl_and_evaluates_the_last_iteration(tmp_path):
    # each iteration plays 2 tasks x 4 episodes of at most 6 steps, so a budget of 1 step is spent
    # by the first iteration, which must then be evaluated and reported as final
    trainer = Trainer(_cfg(tmp_path, sft_episodes=0, iterations=5, eval_every=5, env_step_budget=1), progress=False)
    results = trainer.run()
    trainer.close()
    rl = [r for r in _rl_rows(tmp_path) if r["phase"] == "rl"]
    assert [r["iteration"] for r in rl] == [0]
    assert rl[0]["env_steps"] >= 1 and "eval_success" in rl[0]
    assert results["final"] == rl[0]["eval_success"]
    with pytest.raises(ValueError, match="env_step_budget=0"):
        TrainConfig(env_step_budget=0)


class FlakySokoban:
    """Sokoban whose first episode from each of some reset seeds dies of an 'infrastructure'
    failure at its second step (as a crashed browser does: truncated, `info["error"]`)."""

    attempts: dict[int, int] = {}  # resets per seed so far
    failing: set[int] = set()
    fail_first = 0  # the first N resets of a failing seed die

    @classmethod
    def make(cls, **kwargs):
        from stepgym.envs.sokoban.env import SokobanEnv

        class Env(SokobanEnv):
            def reset(self, *, seed=None, options=None):
                self._seed = seed
                cls.attempts[seed] = cls.attempts.get(seed, 0) + 1
                self._doomed = seed in cls.failing and cls.attempts[seed] <= cls.fail_first
                return super().reset(seed=seed, options=options)

            def step(self, action):
                obs, reward, term, trunc, info = super().step(action)
                if self._doomed and self.steps == 2 and not term:
                    return obs, 0.0, False, True, {**info, "error": "simulated: the browser died"}
                return obs, reward, term, trunc, info

        return Env(**kwargs)


@pytest.mark.parametrize("mode", ["drop", "retry"])
def test_infrastructure_failures_are_retried_or_dropped_never_scored(tmp_path, mode):
    import stepgym

    stepgym.register("test/FlakySokoban-v0", entry_point=FlakySokoban.make)
    cfg = _cfg(tmp_path, env_id="test/FlakySokoban-v0", sft_episodes=0, tasks_per_iteration=3,
               on_env_failure=mode, filter_groups=False)
    trainer = Trainer(cfg, progress=False)
    try:
        specs = trainer.sample_groups(0)
        FlakySokoban.attempts.clear()
        FlakySokoban.failing = {specs[1].seed}  # every episode of the second group fails, once
        FlakySokoban.fail_first = cfg.group_size
        batch, stats = trainer.collect(0)
    finally:
        trainer.close()
    assert stats["groups_failed"] == 1
    assert not any(e.infra_failure for e in batch.episodes)
    if mode == "drop":
        assert [g.group_id for g in batch.groups] == [specs[0].group_id, specs[2].group_id]
        assert stats["groups_lost_to_failures"] == 1 and stats["groups_retried"] == 0
    else:
        assert [g.group_id for g in batch.groups] == [s.group_id for s in specs]
        assert stats["groups_retried"] == 1 and stats["groups_lost_to_failures"] == 0
        assert FlakySokoban.attempts[specs[1].seed] == 2 * cfg.group_size  # played twice, G episodes each


def test_recomputed_old_logprobs_and_truncated_importance_weights(tmp_path):
    cfg = _cfg(tmp_path, sft_episodes=0, iterations=1, old_logprobs="recompute", importance_cap=2.0,
               filter_groups=False, tasks_per_iteration=2)
    trainer = Trainer(cfg, progress=False)
    try:
        m = trainer.iteration(0)
    finally:
        trainer.close()
    # on-policy rows: the trainer's pi_old equals the sampler's, so every weight is 1
    assert m["logprob_mismatch"] < 1e-3
    assert m["is_weight_mean"] == pytest.approx(1.0, abs=1e-3) and m["is_weight_max"] <= 1.0 + 1e-3
    with pytest.raises(ValueError, match="importance_cap needs old_logprobs='recompute'"):
        TrainConfig(importance_cap=2.0)


def _tiny_suite(path, infeasible=False):
    import gzip

    from stepgym.envs.sokoban.env import builtin_suite

    tasks = list(builtin_suite("sokoban_6x6_1box").split("train"))[:4]
    with gzip.open(path, "wt") as f:
        for t in tasks:
            f.write(json.dumps({**t.to_record(), "infeasible": infeasible}) + "\n")
    return str(path)


def test_task_filter_plays_every_task_and_refuses_to_train_on_nothing(tmp_path):
    levels = _tiny_suite(tmp_path / "four.jsonl.gz")
    cfg = _cfg(tmp_path / "run", sft_episodes=0, iterations=0, task_filter_tries=3,
               env_kwargs={"image": False, "max_steps": 6, "levels": levels}, eval_split="train")
    trainer = Trainer(cfg, progress=False)
    try:
        # the untrained model writes no valid move, so it solves nothing: training would be empty
        with pytest.raises(RuntimeError, match="kept no train task.*4 tasks in 3 tries"):
            trainer.filter_tasks()
    finally:
        trainer.close()
    table = json.loads((tmp_path / "run" / "task_filter.json").read_text())
    assert set(table["success"]) == {t.task_id for t in trainer.eval_tasks}
    assert set(table["success"].values()) == {0.0} and table["kept"] == [] and table["tries"] == 3


def test_task_filter_keeps_solved_feasible_tasks_from_its_table(tmp_path):
    levels = _tiny_suite(tmp_path / "four.jsonl.gz")
    cfg = _cfg(tmp_path / "run", sft_episodes=0, iterations=0, task_filter_tries=2,
               env_kwargs={"image": False, "max_steps": 6, "levels": levels}, eval_split="train")
    ids = [f"sokoban_6x6_1box-train-000{i}" for i in range(4)]
    (tmp_path / "run").mkdir()
    # a table from an earlier start of this run (resume): it is read, not played again
    (tmp_path / "run" / "task_filter.json").write_text(json.dumps({"success": dict(zip(ids, [0.5, 0.0, 1.0, 0.0]))}))
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.filter_tasks()
        assert [t.task_id for t in trainer.train_tasks] == [ids[0], ids[2]]
    finally:
        trainer.close()


def test_task_filter_drops_infeasible_tasks(tmp_path):
    levels = _tiny_suite(tmp_path / "four.jsonl.gz", infeasible=True)
    cfg = _cfg(tmp_path / "run", sft_episodes=0, iterations=0, task_filter_tries=1,
               env_kwargs={"image": False, "max_steps": 6, "levels": levels}, eval_split="train")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "task_filter.json").write_text(json.dumps({"success": {f"sokoban_6x6_1box-train-000{i}": 1.0 for i in range(4)}}))
    trainer = Trainer(cfg, progress=False)
    try:
        with pytest.raises(RuntimeError, match="kept no train task"):
            trainer.filter_tasks()
    finally:
        trainer.close()


def test_micro_batches_accumulate_the_minibatch_gradient(tmp_path):
    # the same rows, advantages and minibatch give the same update whether the minibatch is
    # processed at once or in micro-batches of 3 rows (each part's loss is its share of the whole)
    from stepgym.trainers.estimators import ESTIMATORS

    results = []
    for micro in (None, 3):
        cfg = _cfg(tmp_path / f"m{micro}", sft_episodes=0, micro_batch_size=micro, minibatch_size=10_000,
                   filter_groups=False, aggregation="sequence-mean")
        trainer = Trainer(cfg, progress=False)
        try:
            batch, _ = trainer.collect(0)
            adv = ESTIMATORS.get("gigpo")(batch, cfg)
            stats = trainer.update(batch, adv, 0)
            results.append((stats, {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}))
        finally:
            trainer.close()
    (whole, w_whole), (parts, w_parts) = results
    assert whole["loss"] == pytest.approx(parts["loss"], abs=1e-6)
    assert whole["grad_norm"] == pytest.approx(parts["grad_norm"], rel=1e-4)
    for k in w_whole:
        assert torch.allclose(w_whole[k], w_parts[k], atol=1e-6), k


def test_async_rollouts_are_one_update_stale_and_resume_exactly(tmp_path):
    kw = dict(sft_episodes=0, iterations=3, eval_every=3, async_rollouts=True)
    whole = Trainer(_cfg(tmp_path / "whole", **kw), progress=False)
    whole.run()
    whole.close()
    rl = [r for r in _rl_rows(tmp_path / "whole") if r["phase"] == "rl"]
    assert [r["policy_lag"] for r in rl] == [0, 1, 1]
    cut = Trainer(_cfg(tmp_path / "cut", **kw), progress=False)
    cut.run(stop_after=2)
    cut.close()
    resumed = Trainer.resume(tmp_path / "cut", progress=False)
    resumed.run()
    resumed.close()
    assert _rl_rows(tmp_path / "cut") == _rl_rows(tmp_path / "whole")
    from stepgym.trainers.strategy import ROLLOUTS, GroupRollouts

    ROLLOUTS.register("test-other")(type("Other", (GroupRollouts,), {}))
    try:
        with pytest.raises(ValueError, match="async_rollouts needs rollout='groups'"):
            Trainer(_cfg(tmp_path / "x", async_rollouts=True, rollout="test-other"), progress=False)
    finally:
        ROLLOUTS.unregister("test-other")


def test_token_exact_conversation_run(tmp_path):
    """RL on whole-episode chats whose turns keep their sampled ids: it trains, the rows it scores
    are the sampled ones, and the recorded policy says which prompt mode made them."""
    cfg = _cfg(tmp_path, history_mode="conversation", history_len=None, token_exact=True, sft_episodes=8,
               sft_epochs=2, eval_tasks=2, before_sft_eval_tasks=0)
    trainer = Trainer(cfg, progress=False)
    trainer.run()
    trainer.close()
    rl = [r for r in _rl_rows(tmp_path) if r["phase"] == "rl"]
    trained = [r for r in rl if r["rows_trained"] > 0]
    assert len(rl) == 2 and trained and all(r["logprob_mismatch"] < 1e-3 for r in trained)
    first = json.loads((tmp_path / "eval" / "iteration_1" / "episodes.jsonl").read_text().splitlines()[0])
    assert first["meta"]["policy"]["prompt"]["token_exact"] is True
    assert first["meta"]["policy"]["prompt"]["history_mode"] == "conversation"


def test_rl_on_fresh_procedural_levels(tmp_path):
    """rl_tasks="env": each group plays one fresh level (all its episodes the same one, no two groups
    alike); SFT's demonstrations stay on the train split and evaluation on the eval split."""
    fresh = {"procedural": {"min_moves": 1, "max_moves": 4}, "procedural_exclude": ["sokoban_6x6_1box"]}
    trainer = Trainer(_cfg(tmp_path, sft_episodes=4, sft_epochs=1, iterations=1, tasks_per_iteration=3,
                           rl_tasks="env", rl_env_kwargs=fresh), progress=False)
    try:
        trainer.run()
        batch, _ = trainer.collect(1)
    finally:
        trainer.close()
    from stepgym.episodes.io import read_episodes

    levels = [{e.episode.task_id for e in g.episodes} for g in batch.groups]
    assert len(levels) == 3 and all(len(ids) == 1 for ids in levels)
    ids = [next(iter(s)) for s in levels]
    assert len(set(ids)) == 3 and all(i.startswith("proc-") for i in ids)
    assert all(e.task_id.startswith("sokoban_6x6_1box-train") for e in read_episodes(tmp_path / "demos"))
    assert all(e.task_id.startswith("sokoban_6x6_1box-test") for e in read_episodes(tmp_path / "eval" / "iteration_0"))
    with pytest.raises(ValueError, match="rl_tasks must be 'split'.*got 'fresh'"):
        TrainConfig(rl_tasks="fresh")
    with pytest.raises(ValueError, match="task_filter_tries=2 filters train_split"):
        TrainConfig(rl_tasks="env", task_filter_tries=2)


def test_sft_warns_when_demonstrated_actions_exceed_max_new_tokens(tmp_path):
    trainer = Trainer(_cfg(tmp_path, sft_episodes=2, sft_epochs=1, max_new_tokens=1, eval_tasks=1,
                           before_sft_eval_tasks=0), progress=False)
    try:
        with pytest.warns(UserWarning, match=r"of \d+ demonstrated actions \(100%\) are longer than max_new_tokens=1"):
            trainer.run(stop_after=0)
    finally:
        trainer.close()
    logged = [r for r in _rl_rows(tmp_path) if r["phase"] == "sft_data"]
    assert logged and logged[0]["targets_over_max_new_tokens"] == logged[0]["examples"] > 0


def test_sft_step_counts_the_examples_greedy_decoding_copies(tmp_path):
    """`SFTStep.sure` counts an example once every target token has p > 0.5 (so is the policy's first
    choice); then greedy decoding of its prompt writes the demonstrated action exactly."""
    import stepgym
    from stepgym.agents.base import AgentInput
    from stepgym.agents.hf import GenerationSettings, HFPolicy
    from stepgym.agents.tiny import build_tiny_vlm
    from stepgym.trainers.sft import sft_step

    policy = HFPolicy(build_tiny_vlm(tmp_path / "vlm"), config=GenerationSettings(max_new_tokens=8, temperature=0))
    env = stepgym.make("stepgym/Sokoban-v0")
    obs, info = env.reset(seed=0)
    env.close()
    inp = AgentInput(env_index=0, observation=obs, info=info, instruction=info["instruction"],
                     action_doc=info["action_doc"])
    prompt = policy.encode([inp])[0]
    target = policy.tokenizer.encode("up then left", add_special_tokens=False) + [policy.eos_ids[0]]
    opt = torch.optim.AdamW(policy.model.parameters(), lr=1e-2)
    steps = []
    for _ in range(40):
        policy.model.eval()
        copied = policy.generate([prompt])[0].token_ids == target
        policy.model.train()
        steps.append((sft_step(policy, opt, [(prompt, target)], 1.0), copied))
        if steps[-1][0].sure:
            break
    first, last = steps[0], steps[-1]
    assert first[0].sure == 0 and not first[1] and first[0].loss > last[0].loss
    assert last[0].sure == 1 and last[1]  # sure (measured before the step) and greedy copies it
    assert all(c for s, c in steps if s.sure)  # sure implies copied (copied with a token under p=0.5 is not sure)


def test_evaluation_cycles_a_split_smaller_than_eval_tasks(tmp_path):
    """Mobile-v0's suite is one task per template: eval_tasks=N must still mean N episodes, the
    tasks repeated in order, each repeat with a reset seed of its own."""
    from stepgym.episodes.io import read_episodes

    levels = _tiny_suite(tmp_path / "four.jsonl.gz")
    trainer = Trainer(_cfg(tmp_path / "run", sft_episodes=0, iterations=0, eval_tasks=10,
                           env_kwargs={"image": False, "max_steps": 2, "levels": levels}, eval_split="train"),
                      progress=False)
    try:
        trainer.run()
    finally:
        trainer.close()
    episodes = list(read_episodes(tmp_path / "run" / "eval" / "after_sft"))
    # (episodes are written as they finish, so count them rather than read their order)
    from collections import Counter

    assert len(episodes) == 10 and sorted(Counter(e.task_id for e in episodes).values()) == [2, 2, 3, 3]
    assert len({e.seed for e in episodes}) == 10


def test_tiny_words_reach_the_model_the_run_builds(tmp_path):
    trainer = Trainer(_cfg(tmp_path / "run", sft_episodes=0, iterations=0, tiny_words=["left", "up_down"]),
                      progress=False)
    try:
        tok = trainer.policy.tokenizer
        assert tok.tokenize("up_down left") == ["up_down", "Ġ", "left"]
        assert trainer.policy.model.get_input_embeddings().num_embeddings == len(tok)
        assert tok.convert_tokens_to_ids("up_down") == len(tok) - 1  # appended after the shipped vocabulary
    finally:
        trainer.close()
