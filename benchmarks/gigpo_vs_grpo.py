"""GiGPO vs GRPO on Sokoban: same tiny model, same SFT start, same env-step budget, several seeds.

For each seed, one SFT run (the demo's: oracle records, behaviour cloning) makes the starting
policy; GRPO and GiGPO then each train from that same checkpoint until their rollouts have taken
the same number of env steps (`env_step_budget`; the demo's 20 iterations take about 35,000). Prints
held-out success after SFT and after RL per seed, the paired difference GiGPO - GRPO on the
same held-out levels, reset seeds and sampling seeds (with its 95% interval), its mean over seeds
against the target (GiGPO >= 5 points above GRPO), env steps used, time per RL iteration and peak
RSS of each run (every run in its own process), and GiGPO's time per env step over GRPO's,
measured in the same invocation.

    python benchmarks/gigpo_vs_grpo.py                       # 3 seeds x 35,000 env steps (~40 min on 2 cores)
    python benchmarks/gigpo_vs_grpo.py --seeds 1 --env-steps 5000
    python benchmarks/gigpo_vs_grpo.py --parallel 2          # two runs at a time, 1 torch thread each
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET = 0.05


def final_episodes(run_dir: Path) -> list:
    """The recorded episodes of a run's last evaluation."""
    from stepgym.episodes.io import read_episodes

    last = max((run_dir / "eval").glob("iteration_*"), key=lambda p: int(p.name.split("_")[1]))
    return list(read_episodes(last))


def _run(overrides: dict) -> dict:
    """One training run in this (fresh) process; returns its figures."""
    sys.path.insert(0, str(ROOT))
    from stepgym.trainers.config import preset
    from stepgym.trainers.trainer import Trainer

    cfg = preset("sokoban-gigpo-tiny", **overrides)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, progress=False)
    try:
        results = trainer.run()
        rl = [m for m in trainer.metrics() if m.get("phase") == "rl"]
    finally:
        trainer.close()
    return {
        "eval": results, "wall": time.perf_counter() - t0,
        "time_per_iteration": statistics.mean(m["time_total"] for m in rl) if rl else 0.0,
        "update_time": statistics.mean(m["time_update"] for m in rl) if rl else 0.0,
        "rl_time": sum(m["time_total"] for m in rl),
        "env_steps": rl[-1]["env_steps"] if rl else 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_processes(runs: list[dict], parallel: int) -> list[dict]:
    """Each run in a fresh process of its own, `parallel` at a time; results in order."""
    with ProcessPoolExecutor(max_workers=parallel, mp_context=mp.get_context("spawn"), max_tasks_per_child=1) as ex:
        return [f.result() for f in [ex.submit(_run, o) for o in runs]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--env-steps", type=int, default=35_000, help="RL env-step budget of every run")
    ap.add_argument("--out", type=Path, default=None, help="keep run directories here (default: a temp dir)")
    ap.add_argument("--parallel", type=int, default=1, choices=(1, 2),
                    help="2: two runs at a time, one torch thread each (wall times then overlap)")
    args = ap.parse_args()
    threads = {"torch_threads": 1} if args.parallel > 1 else {}
    results: dict[str, list[dict]] = {"grpo": [], "gigpo": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        # every seed's SFT start first, then every RL run from its seed's start
        sfts = in_processes([{"seed": seed, "iterations": 0, "run_dir": str(root / f"sft-{seed}"), **threads}
                             for seed in range(args.seeds)], args.parallel)
        for seed, sft in enumerate(sfts):
            print(f"seed {seed}: before SFT {sft['eval']['before_sft']:.2f}, after SFT {sft['eval']['after_sft']:.2f} "
                  f"({sft['wall']:.0f}s)", flush=True)
        algorithms = ("grpo", "gigpo")
        jobs = [(seed, algorithm) for seed in range(args.seeds) for algorithm in algorithms]
        runs = in_processes([{"seed": seed, "estimator": algorithm, "iterations": 10_000,
                              "env_step_budget": args.env_steps, "eval_every": 10_000,
                              "model": str(root / f"sft-{seed}" / "checkpoint" / "model"), "sft_episodes": 0,
                              "before_sft_eval_tasks": 0, "run_dir": str(root / f"{algorithm}-{seed}"), **threads}
                             for seed, algorithm in jobs], args.parallel)
        from stepgym.episodes.evaluate import paired_difference

        for (seed, algorithm), r in zip(jobs, runs):
            r["after_sft"] = sfts[seed]["eval"]["after_sft"]
            r["run_dir"] = root / f"{algorithm}-{seed}"
            results[algorithm].append(r)
            print(f"seed {seed} {algorithm:>5}: after RL {r['eval']['final']:.3f} ({r['env_steps']} env steps, "
                  f"{r['time_per_iteration']:.1f}s/iteration, peak RSS {r['peak_rss_mb']:.0f} MB)", flush=True)
        for seed in range(args.seeds):
            d = paired_difference(final_episodes(results["grpo"][seed]["run_dir"]),
                                  final_episodes(results["gigpo"][seed]["run_dir"]))
            results.setdefault("paired", []).append(d)
            print(f"seed {seed} GiGPO - GRPO: {d.difference:+.3f} [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}] "
                  f"on {d.pairs} paired levels", flush=True)
    print()
    print(f"{'':>6} {'after SFT':>10} {'after RL':>9} {'spread':>7} {'gain':>6} {'env steps':>10} "
          f"{'s/iteration':>12} {'update s':>9} {'peak RSS MB':>12}")
    paired = results.pop("paired")
    for algorithm, rs in results.items():
        finals = [r["eval"]["final"] for r in rs]
        starts = [r["after_sft"] for r in rs]
        spread = statistics.pstdev(finals) if len(finals) > 1 else 0.0
        print(f"{algorithm:>6} {statistics.mean(starts):>10.3f} {statistics.mean(finals):>9.3f} {spread:>7.3f} "
              f"{statistics.mean(finals) - statistics.mean(starts):>+6.3f} "
              f"{statistics.mean(r['env_steps'] for r in rs):>10.0f} "
              f"{statistics.mean(r['time_per_iteration'] for r in rs):>12.1f} "
              f"{statistics.mean(r['update_time'] for r in rs):>9.1f} {max(r['peak_rss_mb'] for r in rs):>12.0f}")
    g, p = results["gigpo"], results["grpo"]
    per_step = [sum(r["rl_time"] for r in rs) / max(sum(r["env_steps"] for r in rs), 1) for rs in (g, p)]
    print(f"GiGPO time per env step / GRPO: {per_step[0] / per_step[1]:.3f} (time per iteration alone also "
          "reflects episode lengths, which differ once the policies do)")
    diffs = [d.difference for d in paired]
    print("GiGPO - GRPO per seed (paired, 95% CI): " + "; ".join(
        f"seed {i}: {d.difference:+.3f} [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}]" for i, d in enumerate(paired)))
    print(f"mean {statistics.mean(diffs):+.3f} over {len(diffs)} seeds; target >= {TARGET:+.2f}: "
          f"{'met' if statistics.mean(diffs) >= TARGET else 'NOT met'}")
    print(json.dumps({**{k: [r["eval"]["final"] for r in v] for k, v in results.items()}, "gigpo_minus_grpo": diffs}))


if __name__ == "__main__":
    main()
