"""Mobile-v0 speed and memory: step and reset latency beside one raw screenshot, RSS/PSS per env.

    python benchmarks/mobile.py [--steps 60] [--resets 10] [--envs 1,4,8]

Step = parse + touch events (or a JS call for system buttons) + app update + one evaluate
(state, screen, element list) and a screenshot (sent together) decoded to an H×W×3 array. The baseline, measured in
the same run on the same page at the same device size, is one plain `page.screenshot()` (PNG
bytes, nothing decoded). Long presses are left out of the latency mix: they hold the finger
400+ ms by design. Memory counts this process, the Playwright driver and every Chromium process,
and shows which processes hold it at the largest env count.
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
from benchmarks.gui import breakdown, descendants, memory_mb, print_memory  # noqa: E402

TASK = "ContactsDeleteContact"


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def latency(steps: int, resets: int) -> dict:
    env = stepgym.make("stepgym/Mobile-v0", max_steps=10_000).unwrapped
    env.reset(seed=0, options={"task_id": TASK})  # warm up: launch Chromium
    reset_s = []
    for i in range(resets):
        t = time.perf_counter()
        env.reset(seed=i, options={"task_id": TASK})
        reset_s.append(time.perf_counter() - t)
    w, h = env.viewport
    # a realistic mix: open an app, tap a row, go back, scroll the list both ways
    cycle = [{"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "click", "index": 2},
             {"action_type": "navigate_back"}, {"action_type": "scroll", "direction": "down"},
             {"action_type": "scroll", "direction": "up"}, {"action_type": "click", "x": w // 2, "y": 200},
             {"action_type": "navigate_home"}]
    step_s, raw_s, cdp_s = [], [], []
    page = env._session.page
    browser = env._session.host.executable or "Playwright's build"
    for i in range(steps):
        t = time.perf_counter()
        obs, _, _, _, info = env.step(json.dumps(cycle[i % len(cycle)]))
        step_s.append(time.perf_counter() - t)
        assert obs["image"].shape == (h, w, 3) and info["action_valid"], info["action_error"]
        t = time.perf_counter()
        page.screenshot()
        raw_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        env._session.screenshot()
        cdp_s.append(time.perf_counter() - t)
    env.close()
    return {"step_p50": pct(step_s, 50), "step_p95": pct(step_s, 95), "raw_p50": pct(raw_s, 50),
            "raw_p95": pct(raw_s, 95), "capture_p50": pct(cdp_s, 50), "reset_p50": pct(reset_s, 50),
            "reset_p95": pct(reset_s, 95), "size": f"{w}x{h}", "browser": browser}


def memory(counts: list[int]) -> list[dict]:
    rows = []
    for n in counts:
        envs = [stepgym.make("stepgym/Mobile-v0").unwrapped for _ in range(n)]
        for i, e in enumerate(envs):
            e.reset(seed=i, options={"task_id": TASK})
        for e in envs:
            for a in ({"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "scroll", "direction": "down"}):
                e.step(json.dumps(a))
        pids = descendants(os.getpid())
        rss, pss = memory_mb(pids)
        rows.append({"envs": n, "rss_mb": rss, "pss_mb": pss, "rss_per_env": rss / n, "pss_per_env": pss / n,
                     "processes": breakdown(pids)})
        for e in envs:
            e.close()
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=70)
    p.add_argument("--resets", type=int, default=10)
    p.add_argument("--envs", default="1,4,8")
    args = p.parse_args()
    lat = latency(args.steps, args.resets)
    print(f"Mobile-v0 at {lat['size']} (touch, mobile emulation), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, browser {lat['browser']}")
    print(f"raw page.screenshot()      p50 {lat['raw_p50']:7.1f} ms   p95 {lat['raw_p95']:7.1f} ms   (baseline)")
    print(f"env capture (CDP + decode) p50 {lat['capture_p50']:7.1f} ms")
    print(f"env step (action + obs)    p50 {lat['step_p50']:7.1f} ms   p95 {lat['step_p95']:7.1f} ms   "
          f"-> {lat['step_p50'] / lat['raw_p50']:.2f}x one raw screenshot (target <= 1.3x)")
    print(f"env reset (new context)    p50 {lat['reset_p50']:7.1f} ms   p95 {lat['reset_p95']:7.1f} ms")
    print_memory(memory([int(x) for x in args.envs.split(",")]))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
