"""GRPO vs ARPO soft vs ARPO hard on ToolUse-v0: same tiny model, same SFT start, same env-step budget.

Per seed, one SFT run of the `tooluse-arpo-tiny` preset (oracle recordings, behaviour cloning,
`iterations=0`) makes the starting checkpoint. Three RL runs then start from it and stop once their
rollouts have taken `--env-steps` env steps (`env_step_budget`):

- grpo:      plain groups (`rollout="groups"`), every rollout from the reset, GRPO advantages;
- arpo-soft: ARPO's branching (`rollout="branching"`, the preset's options), GRPO over all rollouts;
- arpo-hard: branching with `attribution="hard"` and `estimator="arpo_hard"`.

Prints held-out success (greedy, the preset's 33 test tasks) after SFT and after RL, the paired
difference of each ARPO run against GRPO on the same tasks and seeds (95% interval), tool calls per
held-out episode and per solved one (ARPO's claim: about half GRPO's at equal or better accuracy),
the env steps of the trained rows (`env_steps`: a soft batch counts a shared prefix once per
rollout through it), the steps the policy actually took (`agent_steps`, a shared prefix once: what
`env_step_budget` counts),
the branches taken per iteration and the time per RL iteration. Every run is in its own process.

    python benchmarks/arpo_branching.py                          # 1 seed x 600 env steps
    python benchmarks/arpo_branching.py --seeds 3 --env-steps 3000
    python benchmarks/arpo_branching.py --preset mobile-branching-tiny   # Mobile-v0, any-step branching

With `--preset mobile-branching-tiny` the same table is for Mobile-v0, branching after any step
(the phone forked by replaying its prefix); actions per episode replace tool calls.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRESET = "tooluse-arpo-tiny"
GUI_PRESET = "mobile-branching-tiny"
RUNS = {
    "grpo": {"rollout": "groups", "rollout_kwargs": {}, "estimator": "grpo"},
    "arpo-soft": {"estimator": "grpo"},
    "arpo-hard": {"estimator": "arpo_hard", "attribution": "hard"},
}


def _run(name: str, overrides: dict) -> dict:
    """One training run of preset `name` in this (fresh) process; returns its figures."""
    sys.path.insert(0, str(ROOT))
    from stepgym.trainers.config import preset
    from stepgym.trainers.trainer import Trainer

    cfg = preset(name, **overrides)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, progress=False)
    try:
        results = trainer.run()
        rl = [m for m in trainer.metrics() if m.get("phase") == "rl"]
    finally:
        trainer.close()
    return {
        "eval": results, "wall": time.perf_counter() - t0, "iterations": len(rl),
        "time_per_iteration": statistics.mean(m["time_total"] for m in rl) if rl else 0.0,
        "env_steps": rl[-1]["env_steps"] if rl else 0,
        # plain groups log no agent_steps: every env step is one the policy took
        "agent_steps": sum(m.get("agent_steps", 0) for m in rl) if cfg.rollout == "branching" else
        (rl[-1]["env_steps"] if rl else 0),
        "branches": statistics.mean(m.get("branches", 0) for m in rl) if rl else 0.0,
        "rollout_success": statistics.mean(m["rollout_success"] for m in rl) if rl else 0.0,
    }


def in_process(name: str, overrides: dict) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as ex:
        return ex.submit(_run, name, overrides).result()


def eval_episodes(run_dir: Path, name: str | None = None) -> list:
    """The recorded episodes of one evaluation of a run (default: its last)."""
    from stepgym.episodes.io import read_episodes

    if name is None:
        name = max((run_dir / "eval").glob("iteration_*"), key=lambda p: int(p.name.split("_")[1])).name
    return list(read_episodes(run_dir / "eval" / name))


def tool_calls(episode) -> int:
    """Tool calls the agent made in an episode (every call of every valid turn)."""
    return sum(len((s.parsed_action or {}).get("tool_calls", ())) for s in episode.steps)


def calls_per(episodes: list, count=tool_calls) -> tuple[float, float | None]:
    """Mean of `count` (default: tool calls) per episode and per solved episode (None: none solved)."""
    solved = [count(e) for e in episodes if e.success]
    return (statistics.mean(count(e) for e in episodes),
            statistics.mean(solved) if solved else None)


def actions(episode) -> int:
    """Actions the agent took in an episode (a GUI env has no tool calls)."""
    return len(episode.steps)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--env-steps", type=int, default=600, help="RL env-step budget of every run")
    ap.add_argument("--out", type=Path, default=None, help="keep run directories here (default: a temp dir)")
    ap.add_argument("--preset", default=PRESET, choices=[PRESET, GUI_PRESET],
                    help=f"{PRESET} (branch after tool responses) or {GUI_PRESET} (branch after any step)")
    args = ap.parse_args()
    if args.seeds < 1 or args.env_steps < 1:
        raise SystemExit(f"--seeds and --env-steps must be positive, got {args.seeds} and {args.env_steps}")
    from stepgym.episodes.evaluate import paired_difference
    from stepgym.trainers.config import preset

    base = preset(args.preset).rollout_kwargs
    count, unit = (tool_calls, "calls") if args.preset == PRESET else (actions, "steps")
    rows: dict[str, list[dict]] = {name: [] for name in RUNS}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        for seed in range(args.seeds):
            sft_dir = root / f"sft-{seed}"
            sft = in_process(args.preset, {"seed": seed, "iterations": 0, "run_dir": str(sft_dir)})
            start = str(sft_dir / "checkpoint" / "model")
            sft_eps = eval_episodes(sft_dir, "after_sft")
            print(f"seed {seed}: after SFT {sft['eval']['after_sft']:.3f}, {unit} per episode "
                  f"{_fmt(calls_per(sft_eps, count)[0])} ({sft['wall']:.0f}s)", flush=True)
            for name, spec in RUNS.items():
                spec = dict(spec)
                attribution = spec.pop("attribution", "soft")
                if "rollout_kwargs" not in spec:
                    spec["rollout_kwargs"] = {**base, "attribution": attribution}
                run_dir = root / f"{name}-{seed}"
                r = in_process(args.preset, {"seed": seed, **spec, "iterations": 10_000, "env_step_budget": args.env_steps,
                                "eval_every": 10_000, "model": start, "sft_episodes": 0,
                                "before_sft_eval_tasks": 0, "run_dir": str(run_dir)})
                eps = eval_episodes(run_dir)
                r["after_sft"] = sft["eval"]["after_sft"]
                r["calls"], r["calls_solved"] = calls_per(eps, count)
                r["episodes"] = eps
                rows[name].append(r)
                print(f"  {name:>9}: after RL {r['eval']['final']:.3f} ({r['iterations']} iterations, "
                      f"{r['env_steps']} env steps, {r['agent_steps']} agent steps, "
                      f"{r['time_per_iteration']:.1f}s/iteration)", flush=True)
            for name in ("arpo-soft", "arpo-hard"):
                d = paired_difference(rows["grpo"][-1]["episodes"], rows[name][-1]["episodes"])
                rows[name][-1]["paired"] = d
                print(f"  {name} - grpo: {d.difference:+.3f} [{d.ci[0]:+.3f}, {d.ci[1]:+.3f}] on {d.pairs} "
                      f"paired tasks", flush=True)
    print()
    print(f"{'':>9} {'after SFT':>9} {'after RL':>8} {'vs GRPO':>8} {unit + '/ep':>8} {unit + '/solved':>12} "
          f"{'env steps':>9} {'agent steps':>11} {'branches/it':>11} {'s/iteration':>11}")
    summary = {}
    for name, rs in rows.items():
        finals = [r["eval"]["final"] for r in rs]
        diffs = [r["paired"].difference for r in rs] if "paired" in rs[0] else None
        solved = [r["calls_solved"] for r in rs if r["calls_solved"] is not None]
        summary[name] = {"final": finals, "vs_grpo": diffs}
        print(f"{name:>9} {statistics.mean(r['after_sft'] for r in rs):>9.3f} {statistics.mean(finals):>8.3f} "
              f"{'-' if diffs is None else f'{statistics.mean(diffs):+.3f}':>8} "
              f"{statistics.mean(r['calls'] for r in rs):>8.2f} {_fmt(statistics.mean(solved) if solved else None):>12} "
              f"{statistics.mean(r['env_steps'] for r in rs):>9.0f} "
              f"{statistics.mean(r['agent_steps'] for r in rs):>11.0f} "
              f"{statistics.mean(r['branches'] for r in rs):>11.1f} "
              f"{statistics.mean(r['time_per_iteration'] for r in rs):>11.1f}")
    print("(agent steps: steps the policy took, a shared prefix once, what the budget counts; env steps: "
          "a shared prefix once per rollout through it)")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
