"""GRPO vs ARPO experience replay (ratio 1) vs replay with truncated importance weights, at equal env steps.

    python benchmarks/arpo_replay.py [--env mobile|sokoban] [--seeds 0,1,2] [--budget 960] [--cap 2.0] [--parallel 2]

Per seed, one SFT checkpoint (the preset's SFT on oracle recordings) is trained three ways, each
until its rollouts have taken `--budget` env steps (replayed rows cost none):

- `grpo`: plain groups (the replay strategy with replay=False, so all-negative groups are counted);
- `replay`: ARPO's replay, old log-probs recomputed, so a replayed row's ratio starts at 1;
- `replay_is`: the same, with truncated importance weights min(pi_old / mu, c) on replayed rows.

Then the final policy plays `--reps` episodes of every training task and every held-out task
(greedy as the preset evaluates). Printed per seed and method: training and held-out success with
95% Wilson intervals, the held-out gain over the SFT start paired on the episodes both played,
the share of groups that were all negative, injections per iteration, and time and peak RSS per
iteration (of the training process; Chromium's processes are not counted).
Each run is its own subprocess, so its peak RSS is its own.

`--env mobile` is `mobile-arpo-tiny` as shipped (SFT 20 epochs, about 8 minutes a seed on one core);
`--env sokoban` is one-push Sokoban levels
(no browser), where a tiny model's success after a short SFT is between 0 and 1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

METHODS = {
    "grpo": {"rollout_kwargs": {"replay": False}, "importance_cap": None},
    "replay": {"rollout_kwargs": {"replay": True}, "importance_cap": None},
    "replay_is": {"rollout_kwargs": {"replay": True}, "importance_cap": "CAP"},
}

EASY_SOKOBAN = [["######", "#@$._#", "#____#", "#____#", "#____#", "######"],
                ["######", "#____#", "#.$@_#", "#____#", "#____#", "######"],
                ["######", "#____#", "#_@__#", "#_$__#", "#_.__#", "######"],
                ["######", "#_.__#", "#_$__#", "#_@__#", "#____#", "######"],
                ["######", "#____#", "#@$__#", "#____#", "#___.#", "######"],
                ["######", "#.___#", "#_$__#", "#__@_#", "#____#", "######"]]


def base_config(env: str, out: Path, seed: int) -> dict:
    """The run's config (SFT and RL settings), before the method's own fields."""
    from stepgym.trainers.config import PRESETS

    if env == "mobile":
        cfg = {**PRESETS["mobile-arpo-tiny"], "eval_every": 1000}
    elif env == "sokoban":
        levels = out / "easy_sokoban.jsonl"
        records = [{"task_id": f"easy-{split}-{i}", "grid": g, "instruction": "Push every box onto a target.",
                    "solution_moves": 1, "split": split}
                   for split in ("train", "test") for i, g in enumerate(EASY_SOKOBAN[:4] if split == "train" else EASY_SOKOBAN[4:])]
        levels.write_text("".join(json.dumps(r) + "\n" for r in records))
        cfg = {"model": "tiny:tiny", "env_kwargs": {"image": False, "max_steps": 2, "levels": str(levels)},
               "sft_episodes": 16, "sft_epochs": 30, "sft_batch_size": 16, "before_sft_eval_tasks": 0,
               "system_prompt": "Sokoban. Reply with a move.", "max_new_tokens": 3, "tasks_per_iteration": 4,
               "group_size": 3, "num_envs": 12, "minibatch_size": 64, "eval_every": 1000,
               "estimator": "grpo", "normalize": "mean_std", "clip_low": 0.2, "clip_high": 0.3, "dual_clip": 3.0,
               "rollout": "replay", "old_logprobs": "recompute"}
    else:
        raise SystemExit(f"--env must be mobile or sokoban, got {env!r}")
    return {"eval_tasks": 100, **cfg, "seed": seed, "torch_threads": 1}


def run_sft(env: str, out: Path, seed: int) -> Path:
    """One SFT checkpoint for `seed` (kept when already there)."""
    from stepgym.trainers.config import TrainConfig
    from stepgym.trainers.trainer import Trainer

    sft_dir = out / f"sft-seed{seed}"
    if (sft_dir / "checkpoint" / "state.json").exists():
        return sft_dir
    cfg = TrainConfig.from_dict({**base_config(env, out, seed), "iterations": 0, "run_dir": str(sft_dir),
                                 "rollout_kwargs": {"replay": False}})
    trainer = Trainer(cfg, progress=False)
    try:
        trainer.run()
    finally:
        trainer.close()
    return sft_dir


def run_method(env: str, out: Path, seed: int, method: str, budget: int, cap: float, reps: int) -> dict:
    """Train from the seed's SFT checkpoint with `method` for `budget` env steps; final success on
    train and held-out tasks (`reps` episodes per task) and per-iteration figures."""
    from stepgym.episodes.evaluate import paired_difference, summarize
    from stepgym.episodes.io import read_episodes
    from stepgym.trainers.trainer import Trainer

    sft_dir = out / f"sft-seed{seed}"
    run_dir = out / f"{method}-seed{seed}"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.copytree(sft_dir, run_dir)
    cfg = json.loads((run_dir / "config.json").read_text())
    fields = {k: (cap if v == "CAP" else v) for k, v in METHODS[method].items()}
    cfg.update(fields, run_dir=str(run_dir), iterations=10_000, env_step_budget=budget)
    (run_dir / "config.json").write_text(json.dumps(cfg))
    trainer = Trainer.resume(run_dir, progress=False)
    try:
        trainer.cfg.eval_every = 10_000  # the final evaluation below replaces the run's own
        trainer.run()
        rl = [r for r in trainer.metrics() if r["phase"] == "rl"]
        success = {}
        for name, pool, tasks in (("train", trainer.pool, list(trainer.train_tasks)),
                                  # each held-out task once (a small split is cycled to eval_tasks)
                                  ("held_out", trainer.eval_pool, list({t.task_id: t for t in trainer.eval_tasks}.values()))):
            trainer.eval_pool, trainer.eval_tasks = pool, tasks * reps
            trainer.evaluate(f"bench_{name}")
            s = summarize(list(read_episodes(run_dir / "eval" / f"bench_{name}")))
            success[name] = {"rate": s.success_rate, "ci": list(s.success_ci), "episodes": s.episodes}
        # held-out gain over the SFT start, paired on the episodes both played (same tasks and reset seeds)
        try:
            g = paired_difference(read_episodes(sft_dir / "eval" / "after_sft"),
                                  read_episodes(run_dir / "eval" / "bench_held_out"))
            success["held_out"]["gain_vs_sft"] = {"difference": g.difference, "ci": list(g.ci)}
        except (ValueError, FileNotFoundError):  # no episode in common (another held-out draw)
            pass
    finally:
        trainer.close()
    groups = len(rl) * cfg["tasks_per_iteration"]
    return {
        "seed": seed, "method": method, "iterations": len(rl), "env_steps": rl[-1]["env_steps"] if rl else 0,
        "success": success,
        "all_negative_share": sum(r.get("replay_all_negative_groups", 0) for r in rl) / max(groups, 1),
        "injections_per_iteration": sum(r.get("replay_injections", 0) for r in rl) / max(len(rl), 1),
        "replay_rows_share": sum(r.get("replay_rows_share", 0.0) for r in rl) / max(len(rl), 1),
        "is_weight_mean": [r["is_weight_mean"] for r in rl if "is_weight_mean" in r],
        "seconds_per_iteration": sum(r["time_total"] for r in rl) / max(len(rl), 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _fmt(s: dict) -> str:
    g = s.get("gain_vs_sft")
    gain = f", {g['difference']:+.1%} [{g['ci'][0]:+.1%}, {g['ci'][1]:+.1%}] vs SFT" if g else ""
    return f"{s['rate']:.0%} [{s['ci'][0]:.0%}, {s['ci'][1]:.0%}] n={s['episodes']}{gain}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="mobile", choices=["mobile", "sokoban"])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--budget", type=int, default=None, help="RL env steps per run (default: mobile 96, sokoban 120)")
    p.add_argument("--cap", type=float, default=2.0, help="c of the truncated importance weights min(pi_old/mu, c)")
    p.add_argument("--reps", type=int, default=None, help="final-evaluation episodes per task (mobile 6, sokoban 8)")
    p.add_argument("--out", default="runs/bench_arpo")
    p.add_argument("--parallel", type=int, default=1, help="runs at a time (each uses one torch thread)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)  # "SEED:METHOD": one run, JSON on stdout
    a = p.parse_args()
    budget = a.budget or (960 if a.env == "mobile" else 120)
    reps = a.reps or (6 if a.env == "mobile" else 8)
    out = Path(a.out) / a.env
    out.mkdir(parents=True, exist_ok=True)
    if a.one:
        seed, method = a.one.split(":")
        print("RESULT " + json.dumps(run_method(a.env, out, int(seed), method, budget, a.cap, reps)))
        return
    seeds = [int(s) for s in a.seeds.split(",")]
    print(f"{a.env}: equal budget of {budget} RL env steps per run, seeds {seeds}, final eval {reps} episodes per task; "
          f"{os.cpu_count()} CPUs (shared)")
    t0 = time.perf_counter()
    root = str(Path(__file__).parent.parent)

    def sft(seed: int) -> None:
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r}); "
                        f"from benchmarks.arpo_replay import run_sft; from pathlib import Path; "
                        f"run_sft({a.env!r}, Path({str(out)!r}), {seed})"], check=True, stdout=subprocess.DEVNULL)

    def one(job: tuple[int, str]) -> dict:
        seed, method = job
        proc = subprocess.run([sys.executable, __file__, "--env", a.env, "--budget", str(budget), "--cap", str(a.cap),
                               "--reps", str(reps), "--out", a.out, "--one", f"{seed}:{method}"],
                              check=True, capture_output=True, text=True)
        return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])

    with ThreadPoolExecutor(max_workers=a.parallel) as pool:  # each job is its own 1-thread process
        list(pool.map(sft, seeds))
        results = []
        for r in pool.map(one, [(seed, method) for seed in seeds for method in METHODS]):
            results.append(r)
            w = r["is_weight_mean"]
            print(f"seed {r['seed']} {r['method']:9s}: train {_fmt(r['success']['train'])} · held-out {_fmt(r['success']['held_out'])}"
                  f" · all-negative groups {r['all_negative_share']:.0%} · injections/it {r['injections_per_iteration']:.2f}"
                  f" · replayed rows {r['replay_rows_share']:.0%}"
                  f"{f' · IS weight mean {sum(w) / len(w):.3f}' if w else ''}"
                  f" · {r['iterations']} its, {r['seconds_per_iteration']:.1f} s/it, peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)
    print("\nmean over seeds (train / held-out success):")
    for method in METHODS:
        rs = [r for r in results if r["method"] == method]
        tr = sum(r["success"]["train"]["rate"] for r in rs) / len(rs)
        ho = sum(r["success"]["held_out"]["rate"] for r in rs) / len(rs)
        print(f"  {method:9s}: {tr:.1%} / {ho:.1%}")
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"total {time.perf_counter() - t0:.0f} s; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
