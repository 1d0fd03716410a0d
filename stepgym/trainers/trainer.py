"""The training loop: SFT warm start, then RL iterations with grouped rollouts.

    sample tasks -> roll out groups -> rewards -> advantages -> PPO update -> log -> checkpoint

Every stage is a method a screen long; `Trainer.run` reads top to bottom. A run directory holds
`config.json`, `metrics.jsonl` (one JSON object per SFT epoch, RL iteration and evaluation),
`demos/` (the oracle episodes SFT learns from), `eval/` (recorded evaluation episodes),
`checkpoint/` (written atomically) and `learning_curve.png`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stepgym.agents.hf import GenerationSettings, HFPolicy
from stepgym.agents.prompting import DEFAULT_SYSTEM_PROMPT, PromptConfig
from stepgym.agents.scripted import OraclePolicy
from stepgym.envs.pool import EnvPool
from stepgym.episodes.evaluate import summarize
from stepgym.episodes.io import EpisodeWriter
from stepgym.runner import EpisodeJob, collect_episodes
from stepgym.trainers.advantages import gigpo_advantages, grpo_advantages, rloo_advantages
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.losses import ppo_loss, sft_loss
from stepgym.trainers.rollout import (
    RolloutBatch,
    SamplingPolicy,
    collect_groups,
    filter_uninformative_groups,
)
from stepgym.trainers.sft import sft_examples

CHECKPOINT = "checkpoint"
EVAL_CALL_BASE = 10**9  # generation call ids of evaluations, apart from those of rollouts


def _pad(seqs: list[torch.Tensor] | list[list[float]], dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded [B, L] tensor and its 0/1 mask."""
    length = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), length, dtype=dtype)
    mask = torch.zeros(len(seqs), length, dtype=torch.float32)
    for i, s in enumerate(seqs):
        t = s if isinstance(s, torch.Tensor) else torch.tensor(s, dtype=dtype)
        out[i, : len(t)] = t
        mask[i, : len(t)] = 1.0
    return out, mask


def _pad_graph(seqs: list[torch.Tensor]) -> torch.Tensor:
    """Right-pad differentiable 1-D tensors to [B, L] (keeps the graph)."""
    return torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True)


class Trainer:
    """Runs a `TrainConfig`; `Trainer.resume(run_dir)` continues a run from its checkpoint."""

    def __init__(self, config: TrainConfig, *, console=None, progress: bool = True) -> None:
        self.cfg = config
        self.run_dir = Path(config.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.console = console
        self.show_progress = progress
        self.state: dict[str, Any] = {"next_iteration": 0, "sft_done": False, "eval": {}, "env_steps": 0}
        (self.run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        self.policy = self._build_policy(self._initial_model_dir())
        self.optimizer = self._make_optimizer(config.lr)
        self.reference = None
        self.pool = EnvPool(config.env_id, num_envs=config.num_envs, env_kwargs=config.env_kwargs)
        import stepgym

        probe = stepgym.make(config.env_id, **config.env_kwargs).unwrapped
        self.train_tasks = probe.tasks.split(config.train_split)
        self.eval_tasks = list(probe.tasks.split(config.eval_split))[: config.eval_tasks]
        probe.close()
        self._tb = None

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def resume(cls, run_dir: str | Path, **kwargs: Any) -> Trainer:
        """Continue the run in `run_dir` from its last checkpoint (same metrics as never stopping)."""
        run_dir = Path(run_dir)
        ckpt = run_dir / CHECKPOINT
        if not (ckpt / "state.json").exists():
            raise FileNotFoundError(f"no checkpoint in {str(run_dir)!r} (expected {ckpt}/state.json)")
        cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
        trainer = cls(cfg, **kwargs)
        trainer.state = json.loads((ckpt / "state.json").read_text())
        trainer.policy = trainer._build_policy(ckpt / "model")
        trainer.optimizer = trainer._make_optimizer(cfg.lr)
        if (ckpt / "optimizer.pt").exists():
            trainer.optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        if cfg.kl_coef > 0 and (ckpt / "reference").exists():
            trainer.reference = trainer._build_policy(ckpt / "reference").model
        trainer._truncate_metrics()
        return trainer

    def _initial_model_dir(self) -> Path:
        spec = self.cfg.model
        if spec.startswith("tiny:"):
            from stepgym.agents.tiny import build_tiny_vlm

            out = self.run_dir / "init_model"
            if not (out / "config.json").exists():
                build_tiny_vlm(out, size=spec.split(":", 1)[1], seed=self.cfg.seed)
            return out
        return Path(spec)

    def _build_policy(self, model_dir: Path) -> HFPolicy:
        prompt = PromptConfig(history_len=self.cfg.history_len, include_image=self.cfg.include_image,
                              max_history_images=1 if self.cfg.include_image else 0,
                              system_prompt=self.cfg.system_prompt or DEFAULT_SYSTEM_PROMPT)
        settings = GenerationSettings(max_new_tokens=self.cfg.max_new_tokens, temperature=self.cfg.temperature,
                                      top_p=self.cfg.top_p, seed=self.cfg.seed)
        policy = HFPolicy(model_dir, config=settings, prompt=prompt, device="cpu" if not torch.cuda.is_available() else None)
        policy.model.eval()  # no dropout: rollout and update see the same distribution
        return policy

    def _make_optimizer(self, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.policy.model.parameters(), lr=lr, weight_decay=0.0)

    # -- the run -----------------------------------------------------------------------------------
    def run(self, stop_after: int | None = None) -> dict[str, Any]:
        """SFT (once), then RL iterations until `iterations`; returns the evaluation results.

        `stop_after` ends this call after that many RL iterations (as an interruption would);
        `Trainer.resume(run_dir).run()` then carries on.
        """
        cfg = self.cfg
        if not self.state["sft_done"]:
            if cfg.sft_episodes > 0:
                self.state["eval"]["before_sft"] = self.evaluate("before_sft")
                self.sft()
            self.state["sft_done"] = True
            self.state["eval"]["after_sft"] = self.evaluate("after_sft")
            if cfg.kl_coef > 0:
                self.reference = self._frozen_copy()
            self.optimizer = self._make_optimizer(cfg.lr)
            self.checkpoint()
        with self._progress() as progress:
            bar = progress.add_task("RL", total=cfg.iterations, completed=self.state["next_iteration"])
            first = self.state["next_iteration"]
            for it in range(first, cfg.iterations):
                if stop_after is not None and it - first >= stop_after:
                    return self.state["eval"]
                if self.budget_spent():
                    break
                metrics = self.iteration(it)
                progress.update(bar, advance=1, description=(
                    f"RL {cfg.algorithm} it {it + 1}: success {metrics['rollout_success']:.2f}"))
        if "final" not in self.state["eval"] and self.state["next_iteration"] > 0:
            self.state["eval"]["final"] = self.state["eval"].get(f"iteration_{self.state['next_iteration'] - 1}")
        self.plot()
        return self.state["eval"]

    def iteration(self, it: int) -> dict[str, Any]:
        """One RL iteration; logs and checkpoints it."""
        cfg, t0 = self.cfg, time.perf_counter()
        tasks = self.train_tasks.sample(np.random.default_rng([cfg.seed, it]), cfg.tasks_per_iteration,
                                        replace=cfg.tasks_per_iteration > len(self.train_tasks))
        settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                                      top_p=cfg.top_p, seed=cfg.seed)
        batch = collect_groups(self.pool, self.policy, tasks, cfg.group_size, settings,
                               call_base=it * 10_000, seed=cfg.seed * 1_000 + it,
                               invalid_action_penalty=cfg.invalid_action_penalty)
        t_rollout = time.perf_counter() - t0
        metrics = {"phase": "rl", "iteration": it, **self.rollout_stats(batch)}
        self.state["env_steps"] += batch.num_steps
        dropped = 0
        if cfg.filter_groups:
            batch, dropped = filter_uninformative_groups(batch)
        t1 = time.perf_counter()
        if batch.num_steps:
            advantages = self.advantages(batch)
            metrics.update(self.update(batch, advantages, it))
        metrics.update(groups_dropped=dropped, rows_trained=batch.num_steps, env_steps=self.state["env_steps"],
                       time_rollout=t_rollout, time_update=time.perf_counter() - t1)
        self.state["next_iteration"] = it + 1
        last = it + 1 == cfg.iterations or self.budget_spent()
        if (it + 1) % cfg.eval_every == 0 or last:
            metrics["eval_success"] = self.evaluate(f"iteration_{it}")
            self.state["eval"][f"iteration_{it}"] = metrics["eval_success"]
            if last:
                self.state["eval"]["final"] = metrics["eval_success"]
        metrics["time_total"] = time.perf_counter() - t0
        self.log(metrics)
        if (it + 1) % cfg.checkpoint_every == 0 or last:
            self.checkpoint()
        return metrics

    def budget_spent(self) -> bool:
        """Whether `env_step_budget` (if set) has been used up by the RL rollouts so far."""
        budget = self.cfg.env_step_budget
        return budget is not None and self.state["env_steps"] >= budget

    # -- stages ------------------------------------------------------------------------------------
    def rollout_stats(self, batch: RolloutBatch) -> dict[str, float]:
        eps = batch.episodes
        s = summarize(eps)
        return {"rollout_success": s.success_rate, "rollout_return": s.mean_return,
                "episode_length": s.mean_steps, "invalid_action_rate": s.invalid_action_rate,
                "response_length": float(np.mean([len(r.response_ids) for r in batch.rows])) if batch.rows else 0.0}

    def advantages(self, batch: RolloutBatch) -> np.ndarray:
        """Per-row advantages of the configured estimator ([S])."""
        cfg, a = self.cfg, batch.arrays()
        if cfg.algorithm == "gigpo":
            return gigpo_advantages(a["rewards"], a["episode_ids"], a["group_ids"], a["state_keys"],
                                    gamma=cfg.gamma, omega=cfg.omega, normalize=cfg.normalize,
                                    episode_weighting=cfg.episode_weighting)
        returns = np.bincount(a["episode_ids"], weights=a["rewards"], minlength=len(batch.episodes))
        if cfg.algorithm == "grpo":
            per_episode = grpo_advantages(returns, batch.groups, normalize=cfg.normalize)
        else:
            per_episode = rloo_advantages(returns, batch.groups)
        return per_episode[a["episode_ids"]]

    def update(self, batch: RolloutBatch, advantages: np.ndarray, it: int) -> dict[str, float]:
        """PPO epochs over shuffled minibatches of rows; returns mean loss statistics."""
        cfg, rows = self.cfg, batch.rows
        rng = np.random.default_rng([cfg.seed, it, 7])
        stats: dict[str, list[float]] = {k: [] for k in ("loss", "pg_loss", "kl", "entropy", "clip_fraction", "approx_kl")}
        for _ in range(cfg.ppo_epochs):
            order = rng.permutation(len(rows))
            for start in range(0, len(rows), cfg.minibatch_size):
                idx = order[start: start + cfg.minibatch_size]
                prompts = [rows[i].prompt for i in idx]
                responses = [rows[i].response_ids for i in idx]
                logps, ents = self.policy.sequence_logprobs(prompts, responses, with_entropy=True)
                logp = _pad_graph(logps)
                entropy = _pad_graph(ents)
                old, mask = _pad([rows[i].old_logprobs for i in idx])
                if "logprob_mismatch" not in stats:
                    # before any update the trainer must score tokens as the sampler did
                    stats["logprob_mismatch"] = [float(((logp.detach() - old).abs() * mask).max())]
                ref = None
                if self.reference is not None:
                    with torch.no_grad():
                        ref = _pad_graph(self._ref_logprobs(prompts, responses))
                out = ppo_loss(logp, old, torch.tensor(advantages[idx], dtype=torch.float32), mask,
                               clip_low=cfg.clip_low, clip_high=cfg.clip_high, dual_clip=cfg.dual_clip,
                               ref_logprobs=ref, kl_coef=cfg.kl_coef, entropy=entropy,
                               entropy_coef=cfg.entropy_coef, aggregation=cfg.aggregation)
                self.optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(self.policy.model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for k in ("loss", "pg_loss", "kl", "entropy", "clip_fraction", "approx_kl"):
                    stats[k].append(float(getattr(out, k).detach()))
        return {k: float(np.mean(v)) for k, v in stats.items()}

    def sft(self) -> None:
        """Record oracle episodes on the train split, then behaviour-clone them."""
        cfg = self.cfg
        demos = self.run_dir / "demos"
        if not (demos / "episodes.jsonl").exists():
            tmp = self.run_dir / "demos.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            jobs = [EpisodeJob(seed=cfg.seed * 7919 + i) for i in range(cfg.sft_episodes)]
            with EpisodeWriter(tmp) as writer:
                probe_pool = EnvPool(cfg.env_id, num_envs=cfg.num_envs,
                                     env_kwargs={**cfg.env_kwargs, "split": cfg.train_split})
                collect_episodes(probe_pool, OraclePolicy(), jobs, writer=writer)
                probe_pool.close()
            os.replace(tmp, demos)
        examples = sft_examples(self.policy, demos)
        opt = torch.optim.AdamW(self.policy.model.parameters(), lr=cfg.sft_lr, weight_decay=0.0)
        rng = np.random.default_rng([cfg.seed, 12345])
        with self._progress() as progress:
            bar = progress.add_task("SFT", total=cfg.sft_epochs * ((len(examples) + cfg.sft_batch_size - 1) // cfg.sft_batch_size))
            for epoch in range(cfg.sft_epochs):
                losses = []
                order = rng.permutation(len(examples))
                for start in range(0, len(examples), cfg.sft_batch_size):
                    chunk = [examples[i] for i in order[start: start + cfg.sft_batch_size]]
                    logps, _ = self.policy.sequence_logprobs([p for p, _ in chunk], [t for _, t in chunk])
                    logp = _pad_graph(logps)
                    _, mask = _pad([t for _, t in chunk])
                    loss = sft_loss(logp, mask)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.policy.model.parameters(), cfg.max_grad_norm)
                    opt.step()
                    losses.append(float(loss.detach()))
                    progress.update(bar, advance=1, description=f"SFT epoch {epoch + 1}: loss {losses[-1]:.3f}")
                self.log({"phase": "sft", "epoch": epoch, "sft_loss": float(np.mean(losses)),
                          "examples": len(examples)})

    def evaluate(self, name: str) -> float:
        """Success rate on the held-out tasks, sampled at `eval_temperature` (0: greedy); episodes under eval/NAME."""
        cfg = self.cfg
        settings = GenerationSettings(max_new_tokens=cfg.max_new_tokens, temperature=cfg.eval_temperature, seed=cfg.seed)
        sampler = SamplingPolicy(self.policy, settings, EVAL_CALL_BASE)
        jobs = [EpisodeJob(seed=i, task_id=t.task_id) for i, t in enumerate(self.eval_tasks)]
        out = self.run_dir / "eval" / name
        shutil.rmtree(out, ignore_errors=True)
        with EpisodeWriter(out) as writer:
            eps = collect_episodes(self.pool, sampler, jobs, writer=writer)
        s = summarize(eps)
        self.log({"phase": "eval", "name": name, "iteration": self.state["next_iteration"] - 1,
                  "eval_success": s.success_rate, "eval_ci": list(s.success_ci),
                  "eval_return": s.mean_return, "eval_invalid_rate": s.invalid_action_rate})
        return s.success_rate

    # -- bookkeeping -------------------------------------------------------------------------------
    def log(self, metrics: dict[str, Any]) -> None:
        line = json.dumps({k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in metrics.items()})
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        if self.cfg.tensorboard and metrics.get("phase") == "rl":
            if self._tb is None:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and k != "iteration":
                    self._tb.add_scalar(k, v, metrics["iteration"])

    def metrics(self) -> list[dict[str, Any]]:
        path = self.run_dir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []

    def _truncate_metrics(self) -> None:
        """Drop log lines written after the checkpoint we resume from (they will be redone)."""
        nxt = self.state["next_iteration"]
        kept = [m for m in self.metrics()
                if m.get("phase") in ("sft",) or (m.get("phase") == "eval" and not m.get("name", "").startswith("iteration_"))
                or m.get("iteration", -1) < nxt]
        (self.run_dir / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in kept))

    def checkpoint(self) -> None:
        """Write model, optimizer and state to checkpoint/ atomically (tmp dir, then rename)."""
        tmp, final, old = (self.run_dir / f"{CHECKPOINT}.tmp", self.run_dir / CHECKPOINT,
                           self.run_dir / f"{CHECKPOINT}.old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        self.policy.model.save_pretrained(tmp / "model")
        self.policy.processor.save_pretrained(tmp / "model")
        torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
        if self.reference is not None:
            self.reference.save_pretrained(tmp / "reference")
            self.policy.processor.save_pretrained(tmp / "reference")
        (tmp / "state.json").write_text(json.dumps(self.state, indent=2))
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)

    def _frozen_copy(self):
        import copy

        ref = copy.deepcopy(self.policy.model).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def _ref_logprobs(self, prompts, responses) -> list[torch.Tensor]:
        from stepgym.agents.hf import sequence_logprobs

        return sequence_logprobs(self.reference, prompts, responses, pad_id=self.policy.pad_id)[0]

    def _progress(self):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=self.console, disable=not self.show_progress, transient=True)

    def plot(self) -> Path | None:
        """learning_curve.png: rollout success per iteration and held-out success of evaluations."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ms = self.metrics()
        rl = [m for m in ms if m.get("phase") == "rl"]
        if not rl:
            return None
        ev = [m for m in ms if m.get("phase") == "eval"]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot([m["env_steps"] for m in rl], [m["rollout_success"] for m in rl], label="rollout success (train, sampled)")
        steps_at = {m["iteration"]: m["env_steps"] for m in rl}
        xs = [steps_at.get(m["iteration"], 0) for m in ev]
        how = "greedy" if self.cfg.eval_temperature == 0 else f"T={self.cfg.eval_temperature:g}"
        ys = [m["eval_success"] for m in ev]
        # 95% Wilson interval of each evaluation: how far apart two points must be to mean something
        err = [[max(y - m.get("eval_ci", [y, y])[0], 0.0) for y, m in zip(ys, ev)],
               [max(m.get("eval_ci", [y, y])[1] - y, 0.0) for y, m in zip(ys, ev)]]
        ax.errorbar(xs, ys, yerr=err, fmt="o--", capsize=3, label=f"held-out success ({how}, 95% CI)")
        for m, x in zip(ev, xs):
            if m["name"] in ("before_sft", "after_sft"):
                ax.annotate(m["name"].replace("_", " "), (x, m["eval_success"]), textcoords="offset points", xytext=(4, 4))
        ax.set_xlabel("environment steps (RL)")
        ax.set_ylabel("success rate")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{self.cfg.env_id}: {self.cfg.algorithm} on {self.cfg.model}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        out = self.run_dir / "learning_curve.png"
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out

    def close(self) -> None:
        self.pool.close()
        if self._tb is not None:
            self._tb.close()
