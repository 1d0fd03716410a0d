"""GiGPO vs GRPO on Sokoban: same tiny model, same SFT start, same env-step budget, several seeds.

Prints held-out success (mean and spread over seeds) after RL for both estimators, plus peak
memory (RSS) and time per RL iteration, so GiGPO's overhead (the step-group pass) can be
compared with GRPO's in the same run.

    python benchmarks/gigpo_vs_grpo.py                 # 3 seeds, short budget
    python benchmarks/gigpo_vs_grpo.py --iterations 20 # longer runs
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgym.trainers.config import preset  # noqa: E402
from stepgym.trainers.trainer import Trainer  # noqa: E402


def run(algorithm: str, seed: int, iterations: int, root: Path) -> dict:
    cfg = preset("sokoban-gigpo-tiny", algorithm=algorithm, seed=seed, iterations=iterations,
                 eval_every=max(iterations, 1), run_dir=str(root / f"{algorithm}-{seed}"))
    t0 = time.perf_counter()
    trainer = Trainer(cfg, progress=False)
    results = trainer.run()
    rl = [m for m in trainer.metrics() if m.get("phase") == "rl"]
    trainer.close()
    return {
        "after_sft": results["after_sft"], "final": results["final"],
        "time_per_iteration": statistics.mean(m["time_total"] for m in rl) if rl else 0.0,
        "update_time": statistics.mean(m["time_update"] for m in rl) if rl else 0.0,
        "env_steps": rl[-1]["env_steps"] if rl else 0, "wall": time.perf_counter() - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=6)
    args = ap.parse_args()
    results: dict[str, list[dict]] = {"grpo": [], "gigpo": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for algorithm in ("grpo", "gigpo"):
                r = run(algorithm, seed, args.iterations, Path(tmp))
                results[algorithm].append(r)
                print(f"{algorithm:>5} seed {seed}: after SFT {r['after_sft']:.2f} -> after RL {r['final']:.2f} "
                      f"({r['env_steps']} env steps, {r['time_per_iteration']:.1f}s/iteration)", flush=True)
    print()
    print(f"{'':>6} {'held-out success':>18} {'spread':>8} {'s/iteration':>12} {'update s':>9} {'peak RSS MB':>12}")
    for algorithm, rs in results.items():
        finals = [r["final"] for r in rs]
        spread = statistics.pstdev(finals) if len(finals) > 1 else 0.0
        print(f"{algorithm:>6} {statistics.mean(finals):>18.3f} {spread:>8.3f} "
              f"{statistics.mean(r['time_per_iteration'] for r in rs):>12.1f} "
              f"{statistics.mean(r['update_time'] for r in rs):>9.1f} {max(r['peak_rss_mb'] for r in rs):>12.0f}")
    g, p = results["gigpo"], results["grpo"]
    ratio = statistics.mean(r["time_per_iteration"] for r in g) / statistics.mean(r["time_per_iteration"] for r in p)
    print(f"GiGPO time per iteration / GRPO: {ratio:.3f}")
    print(json.dumps({k: [r["final"] for r in v] for k, v in results.items()}))


if __name__ == "__main__":
    main()
