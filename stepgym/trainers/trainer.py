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
from stepgym.trainers.checkpoint import CHECKPOINT, read_state, write_checkpoint
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.engines import ENGINES
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.losses import LOSSES, LossInputs, LossSettings
from stepgym.trainers.metrics import MetricsLog
from stepgym.trainers.plots import plot_learning_curve
from stepgym.trainers.rollout import GroupSpec, RolloutBatch, SamplingPolicy, is_informative
from stepgym.trainers.seeding import derive_seed, derive_small_seed
from stepgym.trainers.sft import pad, pad_graph, record_demos, sft_examples, sft_step
from stepgym.trainers.strategy import ROLLOUTS, RolloutContext

LOSS_STATS = ("loss", "pg_loss", "kl", "entropy", "clip_fraction", "approx_kl")


class Trainer:
    """Runs a `TrainConfig`; `Trainer.resume(run_dir)` continues a run from its checkpoint."""

    def __init__(self, config: TrainConfig, *, console=None, progress: bool = True) -> None:
        self.cfg = cfg = config
        # the one dispatch point: unknown names fail here, before any work, listing the known ones
        self.estimator = ESTIMATORS.get(cfg.estimator)
        self.loss = LOSSES.get(cfg.loss)
        self.loss_settings = resolve_loss_settings(cfg)
        self.strategy = ROLLOUTS.get(cfg.rollout)(cfg)
        engine_cls = ENGINES.get(cfg.rollout_engine)
        self._threads_before = torch.get_num_threads()
        if cfg.torch_threads is not None:
            torch.set_num_threads(cfg.torch_threads)
        self.run_dir = Path(cfg.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        self.console, self.show_progress = console, progress
        self.log = MetricsLog(self.run_dir, tensorboard=cfg.tensorboard)
        self.state: dict[str, Any] = {"next_iteration": 0, "sft_done": False, "eval": {}, "env_steps": 0}
        self.policy = self._build_policy(self._initial_model_dir())
        self.optimizer = self._make_optimizer(cfg.lr)
        self.reference = None
        self.engine = engine_cls(self.policy, **cfg.rollout_engine_kwargs)
        self._weights_version, self._engine_version = 0, -1  # the engine is synced lazily, once per change
        self.pool = EnvPool(cfg.env_id, num_envs=cfg.num_envs, env_kwargs=cfg.env_kwargs, backend=cfg.env_backend)
        eval_kwargs = {**cfg.env_kwargs, **(cfg.eval_env_kwargs or {})}
        self.eval_pool = (self.pool if cfg.eval_env_kwargs is None else
                          EnvPool(cfg.env_id, num_envs=cfg.num_envs, env_kwargs=eval_kwargs, backend=cfg.env_backend))
        self.train_tasks = _suite(cfg.env_id, cfg.env_kwargs).split(cfg.train_split)
        self.eval_tasks = list(_suite(cfg.env_id, eval_kwargs).split(cfg.eval_split))[: cfg.eval_tasks]

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, **kwargs: Any) -> Trainer:
        """Continue the run in `run_dir` from its last checkpoint (same metrics as never stopping)."""
        run_dir = Path(run_dir)
        state = read_state(run_dir)
        trainer = cls(TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text())), **kwargs)
        ckpt = run_dir / CHECKPOINT
        trainer.state = state
        trainer.policy = trainer.engine.policy = trainer._build_policy(ckpt / "model")
        trainer._weights_version += 1
        trainer.optimizer = trainer._make_optimizer(trainer.cfg.lr)
        if (ckpt / "optimizer.pt").exists():
            trainer.optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        if (ckpt / "reference").exists():
            trainer.reference = trainer._build_policy(ckpt / "reference").model
        trainer.strategy.load_state_dict(state.get("strategy", {}))
        trainer.log.truncate(state["next_iteration"])
        return trainer

    def _initial_model_dir(self) -> Path:
        spec = self.cfg.model
        if spec.startswith("tiny:"):
            from stepgym.agents.tiny import build_tiny_vlm

            out = self.run_dir / "init_model"
            if not (out / "config.json").exists():
                build_tiny_vlm(out, size=spec.split(":", 1)[1], seed=derive_small_seed(self.cfg.seed, "model-init"))
            return out
        return Path(spec)

    def _build_policy(self, model_dir: Path) -> HFPolicy:
        cfg = self.cfg
        prompt = PromptConfig(history_len=cfg.history_len, include_image=cfg.include_image,
                              max_history_images=1 if cfg.include_image else 0,
                              system_prompt=cfg.system_prompt or DEFAULT_SYSTEM_PROMPT)
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
        batch, failures = self.collect(it)
        t_rollout = time.perf_counter() - t0
        trained = batch.filter(is_informative) if cfg.filter_groups else batch
        metrics: dict[str, Any] = {"phase": "rl", "iteration": it, **rollout_stats(batch), **batch.stats, **failures,
                                   "groups_dropped": len(batch.groups) - len(trained.groups)}
        t1 = time.perf_counter()
        if trained.num_steps:
            advantages = self.estimator(trained, cfg)
            metrics.update(signal_stats(trained, advantages))
            metrics.update(self.update(trained, advantages, it))
        metrics.update(rows_trained=trained.num_steps, env_steps=self.state["env_steps"],
                       time_rollout=t_rollout, time_update=time.perf_counter() - t1)
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
    def collect(self, it: int) -> tuple[RolloutBatch, dict[str, int]]:
        """The strategy's batch for iteration `it`, without groups an infrastructure failure hit.

        Such a group is played again (`on_env_failure="retry"`, with fresh sampling seeds) or
        dropped; its episodes never reach the advantages as the agent's failures. Every step
        taken, failed ones included, counts towards `env_steps`.
        """
        cfg = self.cfg

        def play(specs: list[GroupSpec], attempt: int) -> RolloutBatch:
            seed = derive_seed(cfg.seed, "rollout-sample", it, *(("retry", attempt) if attempt else ()))
            ctx = RolloutContext(self.pool, self.policy, self._sampling(cfg.temperature, seed), cfg, it,
                                 engine=self.synced_engine())
            played = self.strategy.collect(ctx, specs)
            self.state["env_steps"] += played.num_steps
            return played

        batch = play(self.sample_groups(it), 0)
        failed = [g for g in batch.groups if _hit_by_failure(g)]
        stats = {"groups_failed": len(failed), "groups_retried": 0}
        attempt = 0
        while failed and cfg.on_env_failure == "retry" and attempt < cfg.env_failure_retries:
            attempt += 1
            stats["groups_retried"] += len(failed)
            redo = {g.group_id: g for g in play([g.spec for g in failed], attempt).groups}
            batch = RolloutBatch(tuple(redo.get(g.group_id, g) for g in batch.groups), dict(batch.stats))
            failed = [g for g in batch.groups if _hit_by_failure(g)]
        stats["groups_lost_to_failures"] = len(failed)
        return batch.filter(lambda g: not _hit_by_failure(g)), stats

    def sample_groups(self, it: int) -> list[GroupSpec]:
        """The task instances of iteration `it`: tasks drawn from the train split, one reset seed each."""
        cfg = self.cfg
        rng = np.random.default_rng(derive_seed(cfg.seed, "tasks", it))
        tasks = self.train_tasks.sample(rng, cfg.tasks_per_iteration, replace=cfg.tasks_per_iteration > len(self.train_tasks))
        return [GroupSpec(f"{it}:{k}:{t.task_id}", t.task_id, derive_small_seed(cfg.seed, "rollout-reset", it, k))
                for k, t in enumerate(tasks)]

    def update(self, batch: RolloutBatch, advantages: np.ndarray, it: int) -> dict[str, float]:
        """`ppo_epochs` passes of shuffled minibatches of rows through the configured loss; mean statistics."""
        cfg, rows = self.cfg, batch.rows
        rng = np.random.default_rng(derive_seed(cfg.seed, "update-order", it))
        stats: dict[str, list[float]] = {k: [] for k in LOSS_STATS}
        recomputed = self.score(rows) if cfg.old_logprobs == "recompute" else None
        mismatch = None if recomputed is None else max(
            float((lp - torch.tensor(r.sampled_logprobs)).abs().max()) for lp, r in zip(recomputed, rows))
        for _ in range(cfg.ppo_epochs):
            order = rng.permutation(len(rows))
            for start in range(0, len(rows), cfg.minibatch_size):
                idx = order[start: start + cfg.minibatch_size]
                prompts, responses = [rows[i].prompt for i in idx], [list(rows[i].response_ids) for i in idx]
                logps, ents = self.policy.sequence_logprobs(prompts, responses, with_entropy=True)
                logp = pad_graph(logps)
                sampled, mask = pad([rows[i].sampled_logprobs for i in idx])
                old, weights = sampled, None
                if recomputed is not None:
                    old = pad([recomputed[i] for i in idx])[0]
                    if cfg.importance_cap is not None:  # truncated IS: min(pi_old / pi_sampled, c)
                        weights = torch.exp(old - sampled).clamp(max=cfg.importance_cap) * mask
                        stats.setdefault("is_weight_mean", []).append(float(weights.sum() / mask.sum()))
                        stats.setdefault("is_weight_max", []).append(float(weights.max()))
                if mismatch is None:  # before any update the trainer must score tokens as the sampler did
                    mismatch = float(((logp.detach() - sampled).abs() * mask).max())
                ref = None
                if self.reference is not None:
                    with torch.no_grad():
                        ref = pad_graph(sequence_logprobs(self.reference, prompts, responses, pad_id=self.policy.pad_id)[0])
                out = self.loss(LossInputs(logp, old, torch.tensor(advantages[idx], dtype=torch.float32), mask,
                                           ref_logprobs=ref, entropy=pad_graph(ents), weights=weights),
                                self.loss_settings)
                self.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.policy.model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                self._weights_version += 1
                for k in LOSS_STATS:
                    stats[k].append(float(getattr(out, k).detach()))
                stats.setdefault("grad_norm", []).append(float(grad_norm))
        return {**{k: float(np.mean(v)) for k, v in stats.items()}, "logprob_mismatch": mismatch}

    def filter_tasks(self) -> None:
        """Keep the train tasks the starting policy solves at least once in `task_filter_tries`
        episodes (and no infeasible one); the table goes to task_filter.json, reused on resume."""
        cfg, path = self.cfg, self.run_dir / "task_filter.json"
        if path.exists():
            table = json.loads(path.read_text())["success"]
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
            kept_ids = [t.task_id for t in tasks if table[t.task_id] > 0 and not t.data.get("infeasible", False)]
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"tries": cfg.task_filter_tries, "success": table, "kept": kept_ids}, indent=1))
            tmp.replace(path)
            self.log.write({"phase": "task_filter", "tasks": len(table), "kept": len(kept_ids)})
        kept = [t for t in self.train_tasks if table.get(t.task_id, 0.0) > 0 and not t.data.get("infeasible", False)]
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
        demos = record_demos(self.run_dir / "demos", cfg.env_id, {**cfg.env_kwargs, "split": cfg.train_split},
                             seeds, cfg.num_envs)
        examples = sft_examples(self.policy, demos)
        opt = torch.optim.AdamW(self.policy.model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
        rng = np.random.default_rng(derive_seed(cfg.seed, "sft-order"))
        steps_per_epoch = -(-len(examples) // cfg.sft_batch_size)
        with _progress(self.console, self.show_progress) as progress:
            bar = progress.add_task("SFT", total=cfg.sft_epochs * steps_per_epoch)
            for epoch in range(cfg.sft_epochs):
                order, losses = rng.permutation(len(examples)), []
                for start in range(0, len(examples), cfg.sft_batch_size):
                    chunk = [examples[i] for i in order[start: start + cfg.sft_batch_size]]
                    losses.append(sft_step(self.policy, opt, chunk, cfg.max_grad_norm))
                    self._weights_version += 1
                    progress.update(bar, advance=1, description=f"SFT epoch {epoch + 1}: loss {losses[-1]:.3f}")
                self.log.write({"phase": "sft", "epoch": epoch, "sft_loss": float(np.mean(losses)), "examples": len(examples)})

    def evaluate(self, name: str, limit: int | None = None) -> float:
        """Success rate on the held-out tasks (the first `limit` of them), sampled at
        `eval_temperature`; the episodes are recorded under eval/NAME.

        Every evaluation of a run uses the same tasks, reset seeds and sampling seed, so two
        evaluations differ by the policy, not by the draw (their difference is a paired one).
        """
        cfg = self.cfg
        sampler = SamplingPolicy(self.policy, self._sampling(cfg.eval_temperature, derive_seed(cfg.seed, "eval-sample")),
                                 engine=self.synced_engine())
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
        """The rollout engine, given the current weights first if they changed since it last got them."""
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
        write_checkpoint(self.run_dir, model=self.policy.model, processor=self.policy.processor,
                         optimizer=self.optimizer, state=self.state, reference=self.reference)

    def plot(self) -> Path | None:
        """learning_curve.png from the metrics so far."""
        how = "greedy" if self.cfg.eval_temperature == 0 else f"T={self.cfg.eval_temperature:g}"
        return plot_learning_curve(self.metrics(), self.run_dir / "learning_curve.png", eval_label=how,
                                   title=f"{self.cfg.env_id}: {self.cfg.estimator} + {self.cfg.loss} on {self.cfg.model}")

    def close(self) -> None:
        self.engine.close()
        self.pool.close()
        if self.eval_pool is not self.pool:
            self.eval_pool.close()
        self.log.close()
        torch.set_num_threads(self._threads_before)


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
    return {"rollout_success": s.success_rate, "rollout_return": s.mean_return, "episode_length": s.mean_steps,
            "invalid_action_rate": s.invalid_action_rate,
            "response_length": float(np.mean([len(r.response_ids) for r in rows])) if rows else 0.0,
            "infra_failures": sum(e.infra_failure for e in batch.episodes)}


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


def _hit_by_failure(group) -> bool:
    return any(e.infra_failure for e in group.episodes)


def _suite(env_id: str, env_kwargs: dict[str, Any]):
    import stepgym

    probe = stepgym.make(env_id, **env_kwargs).unwrapped
    try:
        return probe.tasks
    finally:
        probe.close()


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
