"""EnvPool backends at scale: Sokoban throughput and overhead, Mobile-v0 memory, and a chaos run.

    python benchmarks/scale.py [--envs 8] [--seconds 5] [--skip-mobile] [--chaos-episodes 200]

1. Sokoban-v0 (text + 96x96 image), `--envs` envs stepped as one batch, on every backend and
   `envs_per_worker` 1 and 4. Baseline, measured in the same run: the sync backend (the envs
   in this process). Overhead per step = wall time per env step minus the baseline's (negative:
   the workers ran in parallel). Target: Ray's overhead <= 1 ms per step.
2. Mobile-v0, 8 envs at `envs_per_worker=4` (two workers, so two Chromiums), process and Ray:
   summed RSS and PSS of the worker processes and all their children (Playwright driver,
   Chromium) per env. Target: <= 250 MB per env.
3. Chaos: `--chaos-episodes` Sokoban episodes played by each task's scripted solution through
   `collect_episodes`, while random workers are SIGKILLed. An episode either succeeds, or ends
   marked with `info["error"]` and is played again (as the trainer's `on_env_failure="retry"`
   does); an unmarked failure would be an episode silently scored 0 (expected: none). Recovery
   time = from the pool finding a worker dead to a fresh one with its envs built (`pool.restarts`).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepgym  # noqa: E402
from benchmarks.gui import memory_mb  # noqa: E402
from stepgym.agents.base import AgentAction, AgentInput, Policy  # noqa: E402
from stepgym.envs import EnvPool  # noqa: E402
from stepgym.envs.browser.session import process_tree  # noqa: E402
from stepgym.runner import EpisodeJob, collect_episodes  # noqa: E402

ACTIONS = ["up", "left", "down", "right", "jump"]  # "jump" is invalid: the env reports it
CONFIGS = [("sync", 1), ("process", 1), ("process", 4), ("ray", 1), ("ray", 4)]


# -- 1. throughput ---------------------------------------------------------------------------------
def sokoban_rate(backend: str, envs_per_worker: int, num_envs: int, seconds: float) -> dict:
    """Env steps per second of `num_envs` Sokoban envs stepped together (finished ones reset)."""
    with EnvPool("stepgym/Sokoban-v0", num_envs=num_envs, backend=backend,
                 envs_per_worker=envs_per_worker) as pool:
        pool.reset(seeds=list(range(num_envs)))
        k, steps = 0, 0

        def one_round() -> int:
            nonlocal k
            results = pool.step({i: ACTIONS[(k + i) % len(ACTIONS)] for i in range(num_envs)})
            k += 1
            done = [i for i, r in results.items() if r.done]
            if done:
                pool.reset(done, seeds=[k * num_envs + i for i in done])
            return len(results)

        for _ in range(20):  # warm-up: workers' first steps, caches
            one_round()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            steps += one_round()
        wall = time.perf_counter() - t0
    return {"steps_per_s": steps / wall, "ms_per_step": 1000 * wall / steps}


def throughput(num_envs: int, seconds: float) -> list[dict]:
    rows = []
    for backend, epw in CONFIGS:
        rows.append({"backend": backend, "envs_per_worker": epw, **sokoban_rate(backend, epw, num_envs, seconds)})
    base = rows[0]
    for r in rows:
        r["ratio"] = r["steps_per_s"] / base["steps_per_s"]
        r["overhead_ms"] = r["ms_per_step"] - base["ms_per_step"]
    return rows


def print_throughput(rows: list[dict], num_envs: int) -> None:
    print(f"\nSokoban-v0 (text + image), {num_envs} envs per pool step")
    print(f"  {'backend':8s} {'envs/worker':>11s} {'steps/s':>9s} {'ms/step':>8s} {'vs sync':>8s} {'overhead':>12s}")
    for r in rows:
        target = ""
        if r["backend"] == "ray":
            target = "  target <= 1 ms: " + ("ok" if r["overhead_ms"] <= 1.0 else "MISSED")
        base = "  (baseline)" if r is rows[0] else ""
        print(f"  {r['backend']:8s} {r['envs_per_worker']:>11d} {r['steps_per_s']:>9,.0f} {r['ms_per_step']:>8.3f} "
              f"{r['ratio']:>7.2f}x {r['overhead_ms']:>+9.3f} ms{target}{base}")


# -- 2. memory -------------------------------------------------------------------------------------
def _chromium_browsers(pids: list[int]) -> int:
    n = 0
    for p in pids:
        try:
            args = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.startswith(b"--stepgym-host=") for a in args) and not any(a.startswith(b"--type=") for a in args):
            n += 1
    return n


def mobile_memory(backend: str, num_envs: int = 8, envs_per_worker: int = 4) -> dict:
    """Summed RSS/PSS (MB) of the workers' process trees with `num_envs` Mobile-v0 envs in play."""
    import json

    warm = [{"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "scroll", "direction": "down"}]
    with EnvPool("stepgym/Mobile-v0", num_envs=num_envs, backend=backend, envs_per_worker=envs_per_worker) as pool:
        pool.reset(seeds=list(range(num_envs)), options=[{"task_id": "ContactsDeleteContact"}] * num_envs)
        for a in warm:
            results = pool.step({i: json.dumps(a) for i in range(num_envs)})
            bad = [r.info.get("action_error") or r.info.get("error") for r in results.values() if not r.info["action_valid"]]
            if bad:
                raise RuntimeError(f"Mobile-v0 warm-up action failed: {bad[0]}")
        pids = sorted({p for w in pool.worker_pids() for p in process_tree(w)})
        rss_mb, pss_mb = memory_mb(pids)
        return {"backend": backend, "envs": num_envs, "workers": pool.num_workers, "processes": len(pids),
                "browsers": _chromium_browsers(pids), "rss_mb": rss_mb, "pss_mb": pss_mb}


def print_memory(rows: list[dict]) -> None:
    print(f"\nMobile-v0, {rows[0]['envs']} envs, envs_per_worker=4 (workers and all their children)")
    for r in rows:
        per = r["rss_mb"] / r["envs"]
        print(f"  {r['backend']:8s} {r['workers']} workers, {r['browsers']} Chromium, {r['processes']:3d} processes: "
              f"RSS {r['rss_mb']:6.0f} MB ({per:4.0f} MB/env; target <= 250: {'ok' if per <= 250 else 'MISSED'}), "
              f"PSS {r['pss_mb']:6.0f} MB ({r['pss_mb'] / r['envs']:4.0f} MB/env)")


# -- 3. chaos --------------------------------------------------------------------------------------
class PlanPolicy(Policy):
    """Plays each task's scripted solution, computed beforehand in this process (no pool.call:
    a policy that asks the envs would also see the deaths; here only the pool does)."""

    name = "plan"

    def __init__(self, plans: dict[str, list[str]]) -> None:
        self.plans = plans

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = []
        for inp in inputs:
            plan = self.plans[str(inp.info["task_id"])]
            t = len(inp.history)
            out.append(AgentAction(text=plan[t] if t < len(plan) else "up"))
        return out


class KillingPolicy(Policy):
    """Wraps a policy; before some batches it SIGKILLs a random worker of the pool."""

    name = "plan+chaos"

    def __init__(self, inner: Policy, pool: EnvPool, kill_every: int, rng: random.Random) -> None:
        self.inner, self.pool, self.kill_every, self.rng = inner, pool, kill_every, rng
        self.calls, self.kills = 0, 0

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        self.calls += 1
        if self.calls % self.kill_every == 0:
            try:
                os.kill(self.rng.choice(self.pool.worker_pids()), signal.SIGKILL)
                self.kills += 1
            except ProcessLookupError:
                pass
        return self.inner.act(inputs)


def plans_for(seeds: list[int]) -> dict[str, list[str]]:
    env = stepgym.make("stepgym/Sokoban-v0", image=False).unwrapped
    plans = {}
    for seed in seeds:
        _, info = env.reset(seed=seed)
        if info["task_id"] in plans:
            continue
        actions, done = [], False
        while not done:
            a = env.oracle_action()
            actions.append(a)
            _, _, term, trunc, _ = env.step(a)
            done = term or trunc
        plans[info["task_id"]] = actions
    env.close()
    return plans


def chaos(backend: str, episodes: int, num_envs: int, kill_every: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    seeds = list(range(episodes))
    plans = plans_for(seeds)
    with EnvPool("stepgym/Sokoban-v0", num_envs=num_envs, backend=backend, env_kwargs={"image": False}) as pool:
        killer = KillingPolicy(PlanPolicy(plans), pool, kill_every, rng)
        t0 = time.perf_counter()
        todo = [EpisodeJob(seed=s) for s in seeds]
        first = None
        succeeded, retried, silent, rounds = 0, 0, 0, 0
        while todo and rounds < 10:
            rounds += 1
            eps = collect_episodes(pool, killer, todo, env_id="stepgym/Sokoban-v0", save_images=False)
            marked = [job for job, ep in zip(todo, eps) if "error" in ep.meta]
            silent += sum(1 for ep in eps if not ep.success and "error" not in ep.meta)
            succeeded += sum(1 for ep in eps if ep.success)
            if first is None:
                first = {"succeeded": sum(ep.success for ep in eps), "marked": len(marked)}
            retried += len(marked)
            todo = marked  # played again, as the trainer's on_env_failure="retry" does
        wall = time.perf_counter() - t0
        restarts = [r.seconds for r in pool.restarts]
    return {"backend": backend, "episodes": episodes, "kills": killer.kills, "restarts": len(restarts),
            "first_pass": first, "retried": retried, "silent": silent, "succeeded": succeeded,
            "lost": episodes - succeeded, "rounds": rounds, "wall_s": wall,
            "recovery_median_s": statistics.median(restarts) if restarts else float("nan"),
            "recovery_max_s": max(restarts) if restarts else float("nan")}


def print_chaos(rows: list[dict]) -> None:
    print("\nChaos: Sokoban episodes by scripted solution while random workers are SIGKILLed")
    for r in rows:
        fp = r["first_pass"]
        print(f"  {r['backend']:8s} {r['episodes']} episodes, {r['kills']} kills, {r['restarts']} restarts, "
              f"{r['wall_s']:.0f} s: first pass {fp['succeeded']} succeeded + {fp['marked']} marked; "
              f"{r['retried']} replays over {r['rounds']} rounds -> final {r['succeeded']} succeeded, "
              f"{r['lost']} lost, {r['silent']} silently scored 0 "
              f"(expected 0 and 0: {'ok' if r['silent'] == 0 and r['lost'] == 0 else 'FAILED'})")
        print(f"  {'':8s} recovery (dead worker found -> fresh worker with its envs built): "
              f"median {r['recovery_median_s']:.2f} s, max {r['recovery_max_s']:.2f} s")


def start_ray(attempts: int = 6) -> None:
    """The local Ray every Ray pool below shares, as `EnvPool` would start it, with more tries:
    Ray's raylet gives up when its dashboard agent takes over 15 s to start (ray-project/ray#65983),
    which happens on a heavily loaded 2-core machine."""
    import ray

    for attempt in range(attempts):
        try:
            ray.init(address="local", num_cpus=4 * (os.cpu_count() or 1), include_dashboard=False,
                     logging_level="WARNING")
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts - 1:
                raise


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0, help="timed stepping per backend")
    p.add_argument("--skip-mobile", action="store_true")
    p.add_argument("--chaos-episodes", type=int, default=200)
    p.add_argument("--kill-every", type=int, default=25, help="kill a random worker every N policy batches")
    p.add_argument("--chaos-backends", default="process,ray")
    args = p.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    start_ray()
    rows = throughput(args.envs, args.seconds)
    print_throughput(rows, args.envs)
    if not args.skip_mobile:
        print_memory([mobile_memory(b) for b in ("process", "ray")])
    if args.chaos_episodes:
        print_chaos([chaos(b, args.chaos_episodes, args.envs, args.kill_every)
                     for b in args.chaos_backends.split(",")])
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
