"""The training loop: SFT warm start, then RL iterations over grouped rollouts.

    sample task instances -> roll out (the configured strategy) -> drop uninformative groups
    -> advantages (the configured estimator) -> policy update (the configured loss)
    -> log -> evaluate on held-out tasks -> checkpoint

`Trainer.run` and `Trainer.iteration` read top to bottom; every stage is a method a screen long.
Components are looked up by name in one place (`__init__`): `ESTIMATORS`, `LOSSES` and `ROLLOUTS`.
Furniture lives elsewhere: `metrics.py` (the log), `plots.py` (the curve), `checkpoint.py`,
`sft.py` (demonstrations and behaviour cloning), `seeding.py` (every random stream, by name).

A run directory holds `config.json`, `metrics.jsonl`, `demos/` (the oracle episodes SFT learns
from), `eval/NAME/` (recorded evaluation episodes), `checkpoint/` and `learning_curve.png`.
"""

from __future__ import annotations

import copy
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stepgym.agents.hf import GenerationSettings, HFPolicy, sequence_logprobs
from stepgym.agents.prompting import DEFAULT_SYSTEM_PROMPT, PromptConfig
from stepgym.envs.pool import EnvPool
from stepgym.envs.tasks import TaskSuite
from stepgym.episodes.evaluate import paired_difference, summarize
from stepgym.episodes.io import EpisodeWriter, read_episodes
from stepgym.runner import EpisodeJob, collect_episodes
from stepgym.trainers import (
    builtin,  # noqa: F401  (registers the shipped components)
    distributed,
)
from stepgym.trainers.checkpoint import CHECKPOINT, read_state, write_checkpoint
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.engines import ENGINES
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.losses import LOSSES, LossInputs, LossSettings, Totals
from stepgym.trainers.metrics import MetricsLog
from stepgym.trainers.plots import plot_learning_curve
from stepgym.trainers.rollout import GroupSpec, RolloutBatch, SamplingPolicy, is_informative
from stepgym.trainers.seeding import derive_seed, derive_small_seed
from stepgym.trainers.sft import pad, pad_graph, record_demos, sft_examples, sft_step
from stepgym.trainers.strategy import ROLLOUTS, RolloutContext

LOSS_STATS = ("loss", "pg_loss", "kl", "entropy", "clip_fraction", "approx_kl")
_SHARES = ("loss", "pg_loss", "kl", "entropy")  # a micro-batch's value is its share of the minibatch's
_PER_PART = ("is_weight_max",)  # statistics reported as their maximum, not a mean


# TrainConfig fields `Trainer.resume` may change: the run's length and how often it reports
RESUME_OVERRIDABLE = frozenset({"iterations", "env_step_budget", "eval_every", "checkpoint_every"})


class Trainer:
    """Runs a `TrainConfig`; `Trainer.resume(run_dir)` continues a run from its checkpoint."""

    def __init__(self, config: TrainConfig, *, console=None, progress: bool = True) -> None:
        self.cfg = cfg = config
        # the one dispatch point: unknown names fail here, before any work, listing the known ones
        self.estimator = ESTIMATORS.get(cfg.estimator)
        self.loss = LOSSES.get(cfg.loss)
        self.loss_settings = resolve_loss_settings(cfg)
        self.strategy = ROLLOUTS.get(cfg.rollout)(cfg, **cfg.rollout_kwargs)
        engine_cls = ENGINES.get(cfg.rollout_engine)
        self._threads_before = torch.get_num_threads()
        if cfg.torch_threads is not None:
            torch.set_num_threads(cfg.torch_threads)
        self.dist = distributed.init_from_env()  # one process, or this rank under torchrun
        self.run_dir = Path(cfg.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.dist.is_main:
            (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        self.console, self.show_progress = console, progress and self.dist.is_main
        self.log = MetricsLog(self.run_dir, tensorboard=cfg.tensorboard, enabled=self.dist.is_main)
        self.state: dict[str, Any] = {"next_iteration": 0, "sft_done": False, "eval": {}, "env_steps": 0}
        self.policy = self._build_policy(self._initial_model_dir())
        self.optimizer = self._make_optimizer(cfg.lr)
        self.reference = None
        if cfg.async_rollouts and self.dist.enabled:
            raise ValueError("async_rollouts is not available in data-parallel runs yet (torchrun); set async_rollouts=False")
        if cfg.async_rollouts and cfg.rollout != "groups":
            raise ValueError(f"async_rollouts needs rollout='groups' (got {cfg.rollout!r}): a strategy that keeps state "
                             "would change it in the background while its checkpoint is written")
        engine_kwargs = dict(cfg.rollout_engine_kwargs)
        if cfg.async_rollouts and cfg.rollout_engine == "hf":
            engine_kwargs["copy"] = True  # rollouts sample from a snapshot while the update changes the model
        self.engine = engine_cls(self.policy, **engine_kwargs)
        self._pending = None
        self._executor = None
        if cfg.async_rollouts:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollouts")
        self._weights_version, self._engine_version = 0, -1  # the engine is synced lazily, once per change
        self.pool = EnvPool(cfg.env_id, num_envs=cfg.num_envs, env_kwargs={**cfg.env_kwargs, **(cfg.rl_env_kwargs or {})},
                            backend=cfg.env_backend,
                            **cfg.env_pool_kwargs)
        eval_env = cfg.eval_env_id or cfg.env_id
        # another env's constructor does not take the training env's arguments
        eval_kwargs = ({**cfg.env_kwargs, **(cfg.eval_env_kwargs or {})} if eval_env == cfg.env_id
                       else dict(cfg.eval_env_kwargs or {}))
        # evaluation gets envs of its own when its settings differ, or when rollouts run alongside it
        own_eval = (cfg.eval_env_kwargs is not None or eval_env != cfg.env_id or cfg.async_rollouts
                    or bool(cfg.rl_env_kwargs))
        self.eval_pool = (EnvPool(eval_env, num_envs=cfg.num_envs, env_kwargs=eval_kwargs, backend=cfg.env_backend,
                                  **cfg.env_pool_kwargs) if own_eval else self.pool)
        self.train_tasks = _suite(cfg.env_id, cfg.env_kwargs).split(cfg.train_split)
        self.eval_tasks = _cycled(list(_suite(eval_env, eval_kwargs).split(cfg.eval_split)), cfg.eval_tasks)

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> Trainer:
        """Continue the run in `run_dir` from its last checkpoint (same metrics as never stopping).

        `overrides` may change only how long the run goes and how often it reports
        (`RESUME_OVERRIDABLE`), e.g. `{"iterations": 40}` runs a finished 20-iteration run on to 40;
        config.json is rewritten with them. The result equals a run started with those settings,
        except with `async_rollouts`, whose first resumed batch is then collected with the latest
        weights rather than prefetched one update stale."""
        run_dir = Path(run_dir)
        state = read_state(run_dir)
        data = json.loads((run_dir / "config.json").read_text())
        bad = sorted(set(overrides or {}) - RESUME_OVERRIDABLE)
        if bad:
            raise ValueError(f"a resumed run cannot change {bad}: it would no longer be the run its checkpoint "
                             f"belongs to; fields a resume may change: {sorted(RESUME_OVERRIDABLE)}")
        cfg = TrainConfig.from_dict({**data, **(overrides or {})})
        if cfg.iterations < state["next_iteration"]:
            raise ValueError(f"iterations={cfg.iterations} is below the {state['next_iteration']} iterations "
                             f"{run_dir} has already run")
        trainer = cls(cfg, **kwargs)
        ckpt = run_dir / CHECKPOINT
        trainer.state = state
        trainer.policy = trainer.engine.policy = trainer._build_policy(ckpt / "model")
        trainer._weights_version += 1
        trainer.optimizer = trainer._make_optimizer(trainer.cfg.lr)
        if (ckpt / "optimizer.pt").exists():
            trainer.optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        if (ckpt / "reference").exists():
            trainer.reference = trainer._build_policy(ckpt / "reference").model
        if trainer.cfg.async_rollouts:
            rollout_dir = ckpt / "rollout_model" if (ckpt / "rollout_model").exists() else ckpt / "model"
            trainer.engine.close()
            trainer.engine = ENGINES.get("hf")(trainer.policy, copy=True) if trainer.cfg.rollout_engine == "hf" else \
                ENGINES.get(trainer.cfg.rollout_engine)(trainer.policy, **trainer.cfg.rollout_engine_kwargs)
            trainer.engine.sync(trainer._build_policy(rollout_dir).model)
        trainer.strategy.load_state_dict(state.get("strategy", {}))
        trainer.log.truncate(state["next_iteration"])
        return trainer

    def _initial_model_dir(self) -> Path:
        spec = self.cfg.model
        if spec.startswith("tiny:"):
            from stepgym.agents.tiny import build_tiny_vlm

            out = self.run_dir / "init_model"
            if self.dist.is_main and not (out / "config.json").exists():
                build_tiny_vlm(out, size=spec.split(":", 1)[1], seed=derive_small_seed(self.cfg.seed, "model-init"),
                               words=self.cfg.tiny_words)
            distributed.barrier(self.dist)
            return out
        return Path(spec)

    def _build_policy(self, model_dir: Path) -> HFPolicy:
        cfg = self.cfg
        prompt = PromptConfig(history_mode=cfg.history_mode, history_len=cfg.history_len,
                              token_exact=cfg.token_exact, include_image=cfg.include_image,
                              max_history_images=1 if cfg.include_image else 0,
                              system_prompt=cfg.system_prompt or DEFAULT_SYSTEM_PROMPT,
                              number_steps=cfg.prompt_number_steps,
                              **({"max_pixels": cfg.max_pixels} if cfg.max_pixels is not None else {}))
        policy = HFPolicy(model_dir, config=self._sampling(cfg.temperature, 0), prompt=prompt,
                          device="cpu" if not torch.cuda.is_available() else None)
        policy.model.eval()  # no dropout: rollout and update see the same distribution
        return policy

    def _make_optimizer(self, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.policy.model.parameters(), lr=lr, weight_decay=0.0)

    def _sampling(self, temperature: float, seed: int) -> GenerationSettings:
        cfg = self.cfg
        return GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=temperature, top_p=cfg.top_p, seed=seed)

    # -- the run -----------------------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> dict[str, Any]:
        """SFT (once), then RL iterations until `iterations` (or the env-step budget); returns
        the evaluation results by name. `stop_after` ends this call after that many RL
        iterations, as an interruption would; `Trainer.resume(run_dir).run()` carries on."""
        cfg = self.cfg
        if not self.state["sft_done"]:
            if cfg.sft_episodes > 0:
                if cfg.before_sft_eval_tasks:
                    self.state["eval"]["before_sft"] = self.evaluate("before_sft", limit=cfg.before_sft_eval_tasks)
                self.sft()
            self.state["sft_done"] = True
            self.state["eval"]["after_sft"] = self.evaluate("after_sft")
            if cfg.kl_coef > 0:
                self.reference = _frozen_copy(self.policy.model)
            self.optimizer = self._make_optimizer(cfg.lr)
            self.checkpoint()
        if cfg.task_filter_tries:
            self.filter_tasks()
        with _progress(self.console, self.show_progress) as progress:
            bar = progress.add_task("RL", total=cfg.iterations, completed=self.state["next_iteration"])
            first = self.state["next_iteration"]
            for it in range(first, cfg.iterations):
                if (stop_after is not None and it - first >= stop_after) or self.budget_spent():
                    break
                metrics = self.iteration(it)
                progress.update(bar, advance=1, description=(
                    f"RL {cfg.estimator} it {it + 1}: success {metrics['rollout_success']:.2f}"))
        if stop_after is None or self.state["next_iteration"] >= cfg.iterations or self.budget_spent():
            self.plot()
        return self.state["eval"]

    def iteration(self, it: int) -> dict[str, Any]:
        """One RL iteration; logs, evaluates and checkpoints as configured."""
        cfg, t0 = self.cfg, time.perf_counter()
        if cfg.async_rollouts:
            batch, failures = self._prefetched(it)
            self._prefetch(it + 1)  # sampled with this iteration's weights while its update runs
        else:
            batch, failures = self.collect(it)
        self.state["env_steps"] += failures.pop("env_steps_played")
        t_rollout = time.perf_counter() - t0
        trained = batch.filter(is_informative) if cfg.filter_groups else batch
        metrics: dict[str, Any] = {**rollout_stats(batch), **batch.stats, **failures,
                                   "groups_dropped": len(batch.groups) - len(trained.groups), "rows_trained": trained.num_steps}
        t1 = time.perf_counter()
        advantages = self.advantages(trained)
        if trained.num_steps:
            metrics.update(signal_stats(trained, advantages))
        metrics = combine_metrics(distributed.gather((metrics, len(batch.episodes)), self.dist))
        if metrics["rows_trained"]:  # every rank takes part in the update, even with no rows of its own
            metrics.update(self.update(trained, advantages, it))
        metrics = {"phase": "rl", "iteration": it, **metrics, "env_steps": self.state["env_steps"],
                   "time_rollout": t_rollout, "time_update": time.perf_counter() - t1}
        self.state["next_iteration"] = it + 1
        last = it + 1 == cfg.iterations or self.budget_spent()
        if (it + 1) % cfg.eval_every == 0 or last:
            metrics["eval_success"] = self.state["eval"][f"iteration_{it}"] = self.evaluate(f"iteration_{it}")
            if last:
                self.state["eval"]["final"] = metrics["eval_success"]
        metrics["time_total"] = time.perf_counter() - t0
        self.log.write(metrics)
        if (it + 1) % cfg.checkpoint_every == 0 or last:
            self.checkpoint()
        return metrics

    def budget_spent(self) -> bool:
        """Whether `env_step_budget` (if set) has been used up by the RL rollouts so far."""
        budget = self.cfg.env_step_budget
        return budget is not None and self.state["env_steps"] >= budget

    # -- stages ------------------------------------------------------------------------------------
    def collect(self, it: int, engine=None) -> tuple[RolloutBatch, dict[str, int]]:
        """The strategy's batch for iteration `it`, without groups an infrastructure failure hit.

        Such a group is played again (`on_env_failure="retry"`, with fresh sampling seeds) or
        dropped; its episodes never reach the advantages as the agent's failures. Every step
        taken by the policy, failed ones included, is counted in `stats["env_steps_played"]` (all ranks):
        the strategy's own `agent_steps` where it reports them, else the batch's rows less replayed ones.
        `engine` samples (default: the rollout engine with the current weights).
        """
        cfg = self.cfg
        engine = engine or self.synced_engine()
        steps = 0

        def play(specs: list[GroupSpec], attempt: int) -> RolloutBatch:
            nonlocal steps
            seed = derive_seed(cfg.seed, "rollout-sample", it, *(("retry", attempt) if attempt else ()))
            ctx = RolloutContext(self.pool, self.policy, self._sampling(cfg.temperature, seed), cfg, it, engine=engine)
            played = self.strategy.collect(ctx, specs)
            # the steps the policy took: a strategy that trains rows it did not play in this batch
            # reports them (branching: a shared prefix is one step of several rollouts; replay:
            # stored rows cost no env step)
            taken = played.stats.get("agent_steps")
            if taken is None:
                taken = played.num_steps - int(played.stats.get("replayed_rows", 0))
            steps += int(distributed.all_reduce([int(taken)], self.dist)[0])
            return played

        batch = play(self.dist.shard(self.sample_groups(it)), 0)  # each rank plays its share of the groups
        failed = [g for g in batch.groups if _hit_by_failure(g)]
        stats = {"groups_failed": len(failed), "groups_retried": 0}
        attempt = 0

        def any_failed() -> bool:  # every rank retries in step, so their collective calls match
            return distributed.all_reduce([len(failed)], self.dist)[0] > 0

        while cfg.on_env_failure == "retry" and attempt < cfg.env_failure_retries and any_failed():
            attempt += 1
            stats["groups_retried"] += len(failed)
            redo = {g.group_id: g for g in play([g.spec for g in failed], attempt).groups}
            batch = RolloutBatch(tuple(redo.get(g.group_id, g) for g in batch.groups), dict(batch.stats))
            failed = [g for g in batch.groups if _hit_by_failure(g)]
        stats["groups_lost_to_failures"] = len(failed)
        stats["env_steps_played"] = steps
        return batch.filter(lambda g: not _hit_by_failure(g)), stats

    # -- asynchronous rollouts (one update stale) -------------------------------------------------
    def _prefetch(self, it: int) -> None:
        """Start collecting iteration `it`'s batch in the background with a snapshot of the current
        weights (the rollout engine's own copy), unless the run ends before it."""
        if it >= self.cfg.iterations:
            return
        self.engine.sync(self.policy.model)
        self._pending = (it, self._executor.submit(self.collect, it, self.engine))

    def _prefetched(self, it: int) -> tuple[RolloutBatch, dict[str, int]]:
        """Iteration `it`'s batch: the one collected in the background, or (first iteration of this
        process) one collected now with the engine's weights, which a resume restored."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == it:
            batch, stats = pending[1].result()
        else:
            batch, stats = self.collect(it, self.engine)
        return batch, {**stats, "policy_lag": 1 if it > 0 else 0}

    def sample_groups(self, it: int) -> list[GroupSpec]:
        """The task instances of iteration `it`: tasks drawn from the train split (or left to the env,
        `rl_tasks="env"`), one reset seed each."""
        cfg = self.cfg
        if cfg.rl_tasks == "env":
            return [GroupSpec(f"{it}:{k}:env", None, derive_small_seed(cfg.seed, "rollout-reset", it, k))
                    for k in range(cfg.tasks_per_iteration)]
        rng = np.random.default_rng(derive_seed(cfg.seed, "tasks", it))
        tasks = self.train_tasks.sample(rng, cfg.tasks_per_iteration, replace=cfg.tasks_per_iteration > len(self.train_tasks))
        return [GroupSpec(f"{it}:{k}:{t.task_id}", t.task_id, derive_small_seed(cfg.seed, "rollout-reset", it, k))
                for k, t in enumerate(tasks)]

    def advantages(self, batch: RolloutBatch) -> np.ndarray:
        """[S] advantages of the batch's rows: the configured estimator, negative ones scaled by
        `negative_advantage_weight`."""
        if not batch.num_steps:
            return np.zeros(0)
        adv = self.estimator(batch, self.cfg)
        w = self.cfg.negative_advantage_weight
        return adv if w == 1.0 else np.where(adv < 0, adv * w, adv)

    def update(self, batch: RolloutBatch, advantages: np.ndarray, it: int) -> dict[str, float]:
        """`ppo_epochs` passes of shuffled minibatches of rows through the configured loss, one
        optimizer step per minibatch (its gradient accumulated over micro-batches); mean statistics."""
        cfg, rows, d = self.cfg, batch.rows, self.dist
        rng = np.random.default_rng(derive_seed(cfg.seed, "update-order", it, *((d.rank,) if d.enabled else ())))
        stats: dict[str, list[float]] = {}
        recomputed = self.score(rows) if cfg.old_logprobs == "recompute" else None
        # (largest, summed, tokens) |sampled - trainer's| log-prob gap: all rows when recomputed, else
        # the first micro-batch, scored before any optimizer step
        mismatch = None if recomputed is None else _mismatch(
            [(lp - torch.tensor(r.sampled_logprobs)).abs() for lp, r in zip(recomputed, rows)])
        # a minibatch is the union of every rank's share of minibatch_size rows; all ranks take the
        # same number of optimizer steps, a rank that runs out of rows adds a zero gradient
        share_size = -(-cfg.minibatch_size // d.world)
        steps_per_epoch = int(distributed.all_reduce([-(-len(rows) // share_size)], d, op="max")[0])
        for _ in range(cfg.ppo_epochs):
            order = rng.permutation(len(rows))
            for step in range(steps_per_epoch):
                idx = order[step * share_size: (step + 1) * share_size]
                lengths = [len(rows[i].response_ids) for i in idx]
                tokens, seqs, count = distributed.all_reduce(
                    [float(sum(lengths)), float(sum(n > 0 for n in lengths)), float(len(idx))], d)
                totals = Totals(tokens, seqs)
                self.optimizer.zero_grad(set_to_none=True)
                micro = cfg.micro_batch_size or max(len(idx), 1)
                for m in range(0, len(idx), micro):
                    part = idx[m: m + micro]
                    out, part_stats = self._part_loss(rows, part, advantages, recomputed, totals)
                    out.loss.backward()
                    first = part_stats.pop("first_mismatch")
                    if mismatch is None:  # before any update the trainer must score tokens as the sampler did
                        mismatch = first
                    share = len(part) / count
                    for k, v in {**{k: float(getattr(out, k).detach()) for k in LOSS_STATS}, **part_stats}.items():
                        # loss terms are already this part's share of the minibatch's (`totals`);
                        # rates such as the clip fraction are weighted by the part's rows
                        stats.setdefault(k, []).append(v if k in _SHARES or k in _PER_PART else v * share)
                distributed.all_reduce_gradients(self.policy.model.parameters(), d)
                grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                self._weights_version += 1
                stats.setdefault("grad_norm", []).append(float(grad_norm))
        steps = cfg.ppo_epochs * steps_per_epoch
        local = {k: (max(v) if k in _PER_PART else sum(v) / steps) for k, v in stats.items() if k != "grad_norm"}
        merged: dict[str, float] = {}
        for part in distributed.gather(local, d):  # additive over ranks: each holds its share
            for k, v in part.items():
                merged[k] = max(merged.get(k, v), v) if k in _PER_PART else merged.get(k, 0.0) + v
        gaps = distributed.gather(mismatch if mismatch is not None else (0.0, 0.0, 0), d)
        tokens = sum(g[2] for g in gaps)
        return {**merged, "grad_norm": float(np.mean(stats["grad_norm"])),
                "logprob_mismatch": sum(g[1] for g in gaps) / max(tokens, 1),
                "logprob_mismatch_max": max(g[0] for g in gaps)}

    def _part_loss(self, rows, idx, advantages: np.ndarray, recomputed, totals: Totals):
        """The loss of rows `idx`, as their share of a minibatch with `totals`, and its statistics."""
        cfg = self.cfg
        prompts, responses = [rows[i].prompt for i in idx], [list(rows[i].response_ids) for i in idx]
        logps, ents = self.policy.sequence_logprobs(prompts, responses, with_entropy=True)
        logp = pad_graph(logps)
        sampled, mask = pad([rows[i].sampled_logprobs for i in idx])
        gap = (logp.detach() - sampled).abs() * mask
        stats = {"first_mismatch": (float(gap.max()), float(gap.sum()), int(mask.sum()))}
        old, weights = sampled, None
        if recomputed is not None:
            old = pad([recomputed[i] for i in idx])[0]
            if cfg.importance_cap is not None:  # truncated IS: min(pi_old / pi_sampled, c)
                weights = torch.exp(old - sampled).clamp(max=cfg.importance_cap) * mask
                stats.update(is_weight_mean=float(weights.sum() / mask.sum()), is_weight_max=float(weights.max()))
        ref = None
        if self.reference is not None:
            with torch.no_grad():
                ref = pad_graph(sequence_logprobs(self.reference, prompts, responses, pad_id=self.policy.pad_id)[0])
        out = self.loss(LossInputs(logp, old, torch.tensor(advantages[idx], dtype=torch.float32), mask,
                                   ref_logprobs=ref, entropy=pad_graph(ents), weights=weights, totals=totals),
                        self.loss_settings)
        return out, stats

    def filter_tasks(self) -> None:
        """Keep the train tasks the starting policy solves at least once in `task_filter_tries`
        episodes (and no infeasible one); the table goes to task_filter.json, reused on resume."""
        cfg, path = self.cfg, self.run_dir / "task_filter.json"
        if not self.dist.is_main:
            distributed.barrier(self.dist)  # rank 0 writes the table
            table = json.loads(path.read_text())["success"]
        elif path.exists():
            table = json.loads(path.read_text())["success"]
            distributed.barrier(self.dist)
        else:
            tasks = list(self.train_tasks)
            sampler = SamplingPolicy(self.policy, self._sampling(cfg.temperature, derive_seed(cfg.seed, "task-filter")),
                                     engine=self.synced_engine())
            jobs = [EpisodeJob(seed=derive_small_seed(cfg.seed, "task-filter-reset", i, k), task_id=t.task_id)
                    for i, t in enumerate(tasks) for k in range(cfg.task_filter_tries)]
            episodes = collect_episodes(self.pool, sampler, jobs, save_images=False)
            table = {t.task_id: float(np.mean([e.success for e in episodes[i * cfg.task_filter_tries:
                                                                              (i + 1) * cfg.task_filter_tries]]))
                     for i, t in enumerate(tasks)}
            kept_ids = [t.task_id for t in tasks if table[t.task_id] > 0 and not is_infeasible(t)]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tries": cfg.task_filter_tries, "success": table, "kept": kept_ids}, indent=1))
            tmp.replace(path)
            self.log.write({"phase": "task_filter", "tasks": len(table), "kept": len(kept_ids)})
            distributed.barrier(self.dist)
        kept = [t for t in self.train_tasks if table.get(t.task_id, 0.0) > 0 and not is_infeasible(t)]
        if not kept:
            raise RuntimeError(f"the task filter kept no train task: the starting policy solved none of "
                               f"{len(table)} tasks in {cfg.task_filter_tries} tries each (see {path})")
        self.train_tasks = TaskSuite(kept, name=f"{self.train_tasks.name}-filtered")

    @torch.no_grad()
    def score(self, rows) -> list[torch.Tensor]:
        """Log-probs of each row's response under the current policy (no gradient), in minibatches."""
        out: list[torch.Tensor] = []
        step = self.cfg.minibatch_size
        for start in range(0, len(rows), step):
            chunk = rows[start: start + step]
            lps, _ = self.policy.sequence_logprobs([r.prompt for r in chunk], [list(r.response_ids) for r in chunk])
            out.extend(lp.detach() for lp in lps)
        return out

    def sft(self) -> None:
        """Record oracle episodes on the train split (once), then behaviour-clone them."""
        cfg = self.cfg
        seeds = [derive_small_seed(cfg.seed, "sft-demos", i) for i in range(cfg.sft_episodes)]
        demos = self.run_dir / "demos"
        if self.dist.is_main:
            record_demos(demos, cfg.env_id, {**cfg.env_kwargs, "split": cfg.train_split}, seeds, cfg.num_envs)
        distributed.barrier(self.dist)
        examples = sft_examples(self.policy, demos)
        self._check_generation_length(examples)
        opt = torch.optim.AdamW(self.policy.model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
        rng = np.random.default_rng(derive_seed(cfg.seed, "sft-order"))
        steps_per_epoch = -(-len(examples) // cfg.sft_batch_size)
        with _progress(self.console, self.show_progress) as progress:
            bar = progress.add_task("SFT", total=cfg.sft_epochs * steps_per_epoch)
            for epoch in range(cfg.sft_epochs):
                order, losses, sure = rng.permutation(len(examples)), [], 0
                for start in range(0, len(examples), cfg.sft_batch_size):
                    chunk = [examples[i] for i in order[start: start + cfg.sft_batch_size]]
                    step = sft_step(self.policy, opt, chunk, cfg.max_grad_norm, dist=self.dist)
                    losses.append(step.loss)
                    sure += step.sure
                    self._weights_version += 1
                    progress.update(bar, advance=1, description=f"SFT epoch {epoch + 1}: loss {losses[-1]:.3f}")
                # sft_sure: share of the demonstrated steps whose every token the policy already
                # ranked first (p > 0.5) when the epoch met them, i.e. that greedy decoding copies whole
                self.log.write({"phase": "sft", "epoch": epoch, "sft_loss": float(np.mean(losses)),
                                "sft_sure": sure / len(examples), "examples": len(examples)})

    def _check_generation_length(self, examples) -> None:
        """Log how many demonstrated actions (with their end token) exceed `max_new_tokens`, and
        warn when any do: the policy cannot emit them whole, so its copies of them are cut short
        and usually unparseable."""
        cfg = self.cfg
        lengths = np.array([len(target) for _, target in examples])
        over = int((lengths > cfg.max_new_tokens).sum())
        self.log.write({"phase": "sft_data", "examples": len(lengths), "target_tokens_max": int(lengths.max()),
                        "target_tokens_p50": float(np.median(lengths)), "targets_over_max_new_tokens": over})
        if over:
            warnings.warn(f"{over} of {len(lengths)} demonstrated actions ({over / len(lengths):.0%}) are longer than "
                          f"max_new_tokens={cfg.max_new_tokens} (the longest takes {int(lengths.max())} tokens with "
                          "its end token): generations of them are cut short; raise max_new_tokens", stacklevel=3)

    def evaluate(self, name: str, limit: int | None = None) -> float:
        """Success rate on the held-out tasks (the first `limit` of them), sampled at
        `eval_temperature`; the episodes are recorded under eval/NAME. Under torchrun rank 0
        evaluates and the others receive its result."""
        value = self._evaluate(name, limit) if self.dist.is_main else None
        return distributed.broadcast(value, self.dist)

    def _evaluate(self, name: str, limit: int | None) -> float:
        """`evaluate` in this process.

        Every evaluation of a run uses the same tasks, reset seeds and sampling seed, so two
        evaluations differ by the policy, not by the draw (their difference is a paired one).
        """
        cfg = self.cfg
        sampler = SamplingPolicy(self.policy, self._sampling(cfg.eval_temperature, derive_seed(cfg.seed, "eval-sample")),
                                 engine=None if cfg.async_rollouts else self.synced_engine())
        jobs = [EpisodeJob(seed=derive_small_seed(cfg.seed, "eval-reset", i), task_id=t.task_id)
                for i, t in enumerate(self.eval_tasks[:limit])]
        out = self.run_dir / "eval" / name
        _rmtree(out)
        with EpisodeWriter(out) as writer:
            episodes = collect_episodes(self.eval_pool, sampler, jobs, writer=writer)
        s = summarize(episodes)
        record = {"phase": "eval", "name": name, "iteration": self.state["next_iteration"] - 1,
                  "eval_success": s.success_rate, "eval_ci": list(s.success_ci), "eval_episodes": s.episodes,
                  "eval_return": s.mean_return, "eval_invalid_rate": s.invalid_action_rate}
        baseline = self.run_dir / "eval" / "after_sft"
        if name.startswith("iteration_") and (baseline / "episodes.jsonl").exists():
            gain = paired_difference(read_episodes(baseline), episodes)  # same tasks, seeds and sampling seed
            record.update(gain_vs_sft=gain.difference, gain_ci=list(gain.ci))
        self.log.write(record)
        return s.success_rate

    # -- bookkeeping -------------------------------------------------------------------------------
    def synced_engine(self):
        """The rollout engine, given the current weights first if they changed since it last got them
        (asynchronous rollouts sync it only when they take a snapshot)."""
        if self.cfg.async_rollouts:
            return self.engine
        if self._engine_version != self._weights_version:
            self.engine.sync(self.policy.model)
            self._engine_version = self._weights_version
        return self.engine

    def metrics(self) -> list[dict[str, Any]]:
        """Every record of metrics.jsonl so far."""
        return self.log.read()

    def checkpoint(self) -> None:
        """Model, optimizer, reference and state (the strategy's included), written atomically."""
        self.state["strategy"] = self.strategy.state_dict()
        if self.dist.is_main:
            # with asynchronous rollouts the next batch is being sampled with the snapshot's weights:
            # a resume needs them to sample it again
            snapshot = self.engine.policy.model if self.cfg.async_rollouts else None
            write_checkpoint(self.run_dir, model=self.policy.model, processor=self.policy.processor,
                             optimizer=self.optimizer, state=self.state, reference=self.reference,
                             rollout_model=snapshot)
        distributed.barrier(self.dist)

    def plot(self) -> Path | None:
        """learning_curve.png from the metrics so far (rank 0 draws it)."""
        if not self.dist.is_main:
            return None
        how = "greedy" if self.cfg.eval_temperature == 0 else f"T={self.cfg.eval_temperature:g}"
        return plot_learning_curve(self.metrics(), self.run_dir / "learning_curve.png", eval_label=how,
                                   title=f"{self.cfg.env_id}: {self.cfg.estimator} + {self.cfg.loss} on {self.cfg.model}")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # a prefetch the run did not need finishes first
        self.engine.close()
        self.pool.close()
        if self.eval_pool is not self.pool:
            self.eval_pool.close()
        self.log.close()
        torch.set_num_threads(self._threads_before)
        distributed.shutdown(self.dist)


# -- stage helpers ---------------------------------------------------------------------------------


def resolve_loss_settings(cfg: TrainConfig) -> LossSettings:
    """The loss's settings: the config's values where set, the registered loss's defaults where None."""
    loss = LOSSES.get(cfg.loss)
    if loss.requires_mean_only and cfg.normalize != "mean":
        raise ValueError(f"loss {cfg.loss!r} takes advantages centred without the std: set normalize='mean' "
                         f"(got normalize={cfg.normalize!r})")
    return LossSettings(
        clip_low=loss.clip_low if cfg.clip_low is None else cfg.clip_low,
        clip_high=loss.clip_high if cfg.clip_high is None else cfg.clip_high,
        aggregation=loss.aggregation if cfg.aggregation is None else cfg.aggregation,
        dual_clip=cfg.dual_clip, kl_coef=cfg.kl_coef, entropy_coef=cfg.entropy_coef,
        max_response_tokens=cfg.max_new_tokens)


def rollout_stats(batch: RolloutBatch) -> dict[str, float]:
    """Success, return, lengths and invalid actions of a batch as sampled (before filtering)."""
    s = summarize([e.episode for e in batch.episodes])
    rows = batch.rows
    # valid actions after which the state did not change (moves into walls), the last step excepted
    same = [r.state_key == n.state_key for e in batch.episodes for r, n in zip(e.rows, e.rows[1:]) if r.action_valid]
    return {"no_effect_rate": float(np.mean(same)) if same else 0.0,
            "rollout_success": s.success_rate, "rollout_return": s.mean_return, "episode_length": s.mean_steps,
            "invalid_action_rate": s.invalid_action_rate,
            "response_length": float(np.mean([len(r.response_ids) for r in rows])) if rows else 0.0,
            "infra_failures": sum(e.infra_failure for e in batch.episodes)}


_ROW_WEIGHTED = ("adv_abs_mean", "adv_positive", "adv_negative", "singleton_step_rows", "response_length")


def combine_metrics(parts: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    """One iteration's metrics from every rank's (metrics, episodes): counts (ints) add up, rates
    are averaged weighted by each rank's rows (advantage statistics) or episodes (the rest)."""
    if len(parts) == 1:
        return dict(parts[0][0])
    out: dict[str, Any] = {}
    keys = [k for m, _ in parts for k in m]
    for k in dict.fromkeys(keys):
        values = [(m[k], n, m.get("rows_trained", 0)) for m, n in parts if k in m]
        if all(isinstance(v, int) and not isinstance(v, bool) for v, _, _ in values):
            out[k] = sum(v for v, _, _ in values)
        else:
            w = [(r if k in _ROW_WEIGHTED else n) for _, n, r in values]
            out[k] = sum(float(v) * x for (v, _, _), x in zip(values, w)) / max(sum(w), 1)
    return out


def signal_stats(batch: RolloutBatch, advantages: np.ndarray) -> dict[str, float]:
    """How much learning signal the rows carry: size and sign balance of their advantages, and the
    share of rows alone in their step group (GiGPO gives those no step-level advantage)."""
    a = batch.arrays
    keys = list(zip(a.group_index.tolist(), a.state_keys))
    counts: dict[tuple[int, str], int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    return {"adv_abs_mean": float(np.abs(advantages).mean()), "adv_positive": float((advantages > 1e-9).mean()),
            "adv_negative": float((advantages < -1e-9).mean()),
            "singleton_step_rows": float(np.mean([counts[k] == 1 for k in keys]))}


def _mismatch(gaps: list[torch.Tensor]) -> tuple[float, float, int]:
    """(largest, summed, count) of per-token log-prob gaps."""
    n = sum(len(g) for g in gaps)
    return (max((float(g.max()) for g in gaps if len(g)), default=0.0), float(sum(float(g.sum()) for g in gaps)), n)


def is_infeasible(task) -> bool:
    """Whether a task cannot be done (the task filter never trains on it): Mobile-v0 templates say so
    in `data["infeasible"]`, OSWorld-style Desktop-v0 tasks by their evaluator `{"func": "infeasible"}`."""
    evaluator = task.data.get("evaluator")
    return bool(task.data.get("infeasible", False)) or (isinstance(evaluator, dict) and evaluator.get("func") == "infeasible")


def _hit_by_failure(group) -> bool:
    return any(e.infra_failure for e in group.episodes)


def _suite(env_id: str, env_kwargs: dict[str, Any]):
    import stepgym

    probe = stepgym.make(env_id, **env_kwargs).unwrapped
    try:
        return probe.tasks
    finally:
        probe.close()


def _cycled(tasks: list, n: int) -> list:
    """The first `n` of `tasks`, repeated in order when there are fewer (each repeat is an episode
    with its own reset seed, so a parameterised task meets other parameters)."""
    if not tasks:
        return []
    return [tasks[i % len(tasks)] for i in range(n)]


def _frozen_copy(model):
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _progress(console, show: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=not show, transient=True)
