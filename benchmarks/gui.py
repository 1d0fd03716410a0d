"""Desktop-v0 speed and memory: step and reset latency beside one raw Playwright screenshot, RSS per env.

    python benchmarks/gui.py [--steps 60] [--resets 10] [--envs 1,4,8]

Step = parse + Playwright input + app update + one evaluate (state + a11y) and a screenshot
(sent together) decoded to an H×W×3 array. The baseline, measured in the same run on the same page, is one plain
`page.screenshot()` (PNG bytes, nothing decoded). Memory counts this process, the Playwright
driver and every Chromium process (RSS, and PSS, which splits shared pages fairly), and shows
which processes hold it at the largest env count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepgym  # noqa: E402
from stepgym.envs.browser.session import process_tree  # noqa: E402

TASK = "sheet-new-scores"


def descendants(root: int) -> list[int]:
    return process_tree(root)


def _smaps(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB, (0, 0) when it is gone."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(RSS sum, PSS sum) in MB over these processes."""
    rss = pss = 0
    for pid in pids:
        r, p = _smaps(pid)
        rss, pss = rss + r, pss + p
    return rss / 1024, pss / 1024


def process_kind(pid: int) -> str:
    """What a process in our tree is: this python, the Playwright node driver, or a Chromium
    process by its --type (renderer, gpu-process, zygote, utility:<service>, browser)."""
    if pid == os.getpid():
        return "python (envs, HTTP servers)"
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
    except OSError:
        return "gone"
    exe = os.path.basename(args[0]) if args else "?"
    if exe == "node" or "playwright/driver" in (args[0] if args else ""):
        return "playwright driver (node)"
    kind = next((a[7:] for a in args if a.startswith("--type=")), None)
    if kind is None:
        return f"browser ({exe})"
    sub = next((a.split("=", 1)[1].split(".")[0] for a in args if a.startswith("--utility-sub-type=")), None)
    return f"{kind}:{sub}" if sub else kind


def breakdown(pids: list[int]) -> dict[str, list[float]]:
    """kind -> [process count, RSS MB, PSS MB] over these processes."""
    out: dict[str, list[float]] = {}
    for pid in pids:
        r, p = _smaps(pid)
        row = out.setdefault(process_kind(pid), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += r / 1024
        row[2] += p / 1024
    return out


def print_breakdown(rows: dict[str, list[float]], n: int) -> None:
    for kind, (count, rss, pss) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"    {kind:34s} x{count:<3d} RSS {rss:6.0f} MB  PSS {pss:6.0f} MB")


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def time_resets(env, task_id: str, resets: int) -> list[float]:
    """Seconds of each of `resets` resets onto `task_id` (after one warm-up reset launching Chromium)."""
    env.reset(seed=0, options={"task_id": task_id})
    out = []
    for i in range(resets):
        t = time.perf_counter()
        env.reset(seed=i, options={"task_id": task_id})
        out.append(time.perf_counter() - t)
    return out


def time_steps(env, actions: list[dict], reset_s: list[float], check=None) -> dict:
    """Step latency over `actions`, each followed by one raw `page.screenshot()` (the baseline) and
    one env capture, plus reset figures: p50/p95 in ms and which browser ran."""
    step_s, raw_s, cdp_s = [], [], []
    page = env._session.page
    browser = env._session.host.executable or "Playwright's build"
    for a in actions:
        t = time.perf_counter()
        obs, _, _, _, info = env.step(json.dumps(a))
        step_s.append(time.perf_counter() - t)
        if check is not None:
            check(obs, info)
        t = time.perf_counter()
        page.screenshot()
        raw_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        env._session.screenshot()
        cdp_s.append(time.perf_counter() - t)
    return {"step_p50": pct(step_s, 50), "step_p95": pct(step_s, 95), "raw_p50": pct(raw_s, 50),
            "raw_p95": pct(raw_s, 95), "capture_p50": pct(cdp_s, 50), "reset_p50": pct(reset_s, 50),
            "reset_p95": pct(reset_s, 95), "browser": browser}


def latency(steps: int, resets: int) -> dict:
    env = stepgym.make("stepgym/Desktop-v0", max_steps=10_000).unwrapped
    reset_s = time_resets(env, TASK, resets)
    # a realistic mix: click cells, type into them, move the pointer
    cells = [env._session.evaluate("(s) => desktop.locate(s)", f'[data-k="cell-{c}{r}"]') for c in "ABCD" for r in range(1, 6)]
    actions = []
    for i in range(steps):
        x, y = cells[i % len(cells)]
        kind = i % 3
        actions.append({"action_type": "CLICK", "x": x, "y": y} if kind == 0 else
                       {"action_type": "TYPING", "text": str(i)} if kind == 1 else
                       {"action_type": "PRESS", "key": "enter"})

    def check(obs, info):
        assert obs["image"].shape == (720, 1280, 3)

    lat = time_steps(env, actions, reset_s, check)
    env.close()
    return lat


def memory(counts: list[int], env_id: str = "stepgym/Desktop-v0", task_id: str = TASK,
           warm_actions: tuple[dict, ...] = ({"action_type": "CLICK", "x": 400, "y": 300},
                                             {"action_type": "TYPING", "text": "42"})) -> list[dict]:
    """Summed RSS/PSS of this process tree with n envs of `env_id` open in this thread, per n."""
    rows = []
    for n in counts:
        envs = [stepgym.make(env_id).unwrapped for _ in range(n)]
        for i, e in enumerate(envs):
            e.reset(seed=i, options={"task_id": task_id})
        for e in envs:
            for a in warm_actions:
                e.step(json.dumps(a))
        pids = descendants(os.getpid())
        rss, pss = memory_mb(pids)
        rows.append({"envs": n, "rss_mb": rss, "pss_mb": pss, "rss_per_env": rss / n, "pss_per_env": pss / n,
                     "processes": breakdown(pids)})
        for e in envs:
            e.close()
    return rows


def print_latency(lat: dict, reset_target: str = "") -> None:
    print(f"raw page.screenshot()      p50 {lat['raw_p50']:7.1f} ms   p95 {lat['raw_p95']:7.1f} ms   (baseline)")
    print(f"env capture (CDP + decode) p50 {lat['capture_p50']:7.1f} ms")
    print(f"env step (action + obs)    p50 {lat['step_p50']:7.1f} ms   p95 {lat['step_p95']:7.1f} ms   "
          f"-> {lat['step_p50'] / lat['raw_p50']:.2f}x one raw screenshot (target <= 1.3x)")
    print(f"env reset (new context)    p50 {lat['reset_p50']:7.1f} ms   p95 {lat['reset_p95']:7.1f} ms{reset_target}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--resets", type=int, default=10)
    p.add_argument("--envs", default="1,4,8")
    args = p.parse_args()
    lat = latency(args.steps, args.resets)
    print(f"Desktop-v0 at 1280x720, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"browser {lat['browser']}")
    print_latency(lat, "   (target <= 1000 ms)")
    print_memory(memory([int(x) for x in args.envs.split(",")]))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


def print_memory(rows: list[dict]) -> None:
    for row in rows:
        print(f"{row['envs']} envs: RSS {row['rss_mb']:7.0f} MB ({row['rss_per_env']:5.0f} MB/env), "
              f"PSS {row['pss_mb']:7.0f} MB ({row['pss_per_env']:5.0f} MB/env; target <= 250 MB/env at 8)")
    print(f"  where it goes at {rows[-1]['envs']} envs:")
    print_breakdown(rows[-1]["processes"], rows[-1]["envs"])


if __name__ == "__main__":
    main()
