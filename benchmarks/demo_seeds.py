"""The demo's promise over seeds and torch thread counts: RL ends >= 10 points above its SFT start.

Runs the `make demo` recipe (preset `sokoban-gigpo-tiny`, built-in defaults) once per
(seed, torch threads), each in a fresh process, and prints held-out success after SFT and after
RL with the paired difference (same levels, reset seeds and sampling seed before and after RL)
and its 95% interval, the wall time, and whether every run meets the target.

    python benchmarks/demo_seeds.py                              # seeds 0 1 2 x threads 1 2 (~1 h on 2 cores)
    python benchmarks/demo_seeds.py --seeds 0 --threads 2 --set iterations=10
    python benchmarks/demo_seeds.py --parallel 2                 # two 1-thread runs at a time (wall times then overlap)
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

TARGET = 0.10


def one_run(seed: int, threads: int, run_dir: str, overrides: dict) -> dict:
    """One demo run in this (fresh) process; returns its figures."""
    sys.path.insert(0, str(ROOT))
    from transformers.utils import logging as hf_logging

    from stepgym.trainers.config import preset
    from stepgym.trainers.trainer import Trainer

    hf_logging.disable_progress_bar()
    t0 = time.perf_counter()
    cfg = preset("sokoban-gigpo-tiny", run_dir=run_dir, seed=seed, torch_threads=threads, **overrides)
    if cfg.iterations < 1:  # checked before SFT's minutes are spent: the figures compare RL with SFT
        raise ValueError(f"iterations={cfg.iterations}: the demo's figures need at least one RL iteration "
                         "(an SFT checkpoint alone: `stepgym train sokoban-gigpo-tiny --set iterations=0`)")
    trainer = Trainer(cfg, progress=False)
    try:
        results = trainer.run()
        records = trainer.metrics()
    finally:
        trainer.close()
    final_eval = [m for m in records if m.get("phase") == "eval" and m.get("name", "").startswith("iteration_")][-1]
    rl = [m for m in records if m.get("phase") == "rl"]
    return {"seed": seed, "threads": threads, "after_sft": results["after_sft"], "final": results["final"],
            "gain": final_eval["gain_vs_sft"], "gain_ci": final_eval["gain_ci"], "eval_episodes": final_eval["eval_episodes"],
            "wall_s": time.perf_counter() - t0, "rl_s": sum(m["time_total"] for m in rl),
            "entropy": [rl[0]["entropy"], rl[-1]["entropy"]] if rl else None,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--parallel", type=int, default=1, help="runs at a time (1: each run has the machine)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="TrainConfig override (JSON value)")
    ap.add_argument("--out", type=Path, default=None, help="keep run directories here (default: a temp dir)")
    args = ap.parse_args()
    overrides = {}
    for kv in args.set:
        key, _, value = kv.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    runs = [(s, t) for t in args.threads for s in args.seeds]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        ctx = mp.get_context("spawn")
        results = []
        with ProcessPoolExecutor(max_workers=args.parallel, mp_context=ctx, max_tasks_per_child=1) as ex:
            futures = [ex.submit(one_run, s, t, str(root / f"demo-s{s}-t{t}"), overrides) for s, t in runs]
            for f in futures:
                r = f.result()
                results.append(r)
                print(f"seed {r['seed']} threads {r['threads']}: after SFT {r['after_sft']:.3f} -> after RL "
                      f"{r['final']:.3f}, gain {r['gain']:+.3f} [{r['gain_ci'][0]:+.3f}, {r['gain_ci'][1]:+.3f}] "
                      f"on {r['eval_episodes']} levels; {r['wall_s']:.0f} s", flush=True)
    print()
    print(f"{'seed':>4} {'threads':>7} {'after SFT':>9} {'after RL':>8} {'gain':>7} {'95% CI (paired)':>17} "
          f"{'wall s':>7} {'RL s':>6} {'peak RSS MB':>11}")
    for r in results:
        print(f"{r['seed']:>4} {r['threads']:>7} {r['after_sft']:>9.3f} {r['final']:>8.3f} {r['gain']:>+7.3f} "
              f"{'[{:+.3f}, {:+.3f}]'.format(*r['gain_ci']):>17} {r['wall_s']:>7.0f} {r['rl_s']:>6.0f} {r['peak_rss_mb']:>11.0f}")
    gains = [r["gain"] for r in results]
    print(f"gain over SFT: mean {statistics.mean(gains):+.3f}, min {min(gains):+.3f}, max {max(gains):+.3f} "
          f"over {len(gains)} runs; target >= {TARGET:+.2f} in every run: "
          f"{'met' if min(gains) >= TARGET else 'NOT met'}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
