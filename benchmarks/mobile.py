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
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import stepgym  # noqa: E402
from benchmarks.gui import memory, print_latency, print_memory, time_resets, time_steps  # noqa: E402

TASK = "ContactsDeleteContact"


def latency(steps: int, resets: int) -> dict:
    env = stepgym.make("stepgym/Mobile-v0", max_steps=10_000).unwrapped
    reset_s = time_resets(env, TASK, resets)
    w, h = env.viewport
    # a realistic mix: open an app, tap a row, go back, scroll the list both ways
    cycle = [{"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "click", "index": 2},
             {"action_type": "navigate_back"}, {"action_type": "scroll", "direction": "down"},
             {"action_type": "scroll", "direction": "up"}, {"action_type": "click", "x": w // 2, "y": 200},
             {"action_type": "navigate_home"}]

    def check(obs, info):
        assert obs["image"].shape == (h, w, 3) and info["action_valid"], info["action_error"]

    lat = time_steps(env, [cycle[i % len(cycle)] for i in range(steps)], reset_s, check)
    env.close()
    return {**lat, "size": f"{w}x{h}"}


MOBILE_WARM = ({"action_type": "open_app", "app_name": "Contacts"}, {"action_type": "scroll", "direction": "down"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=70)
    p.add_argument("--resets", type=int, default=10)
    p.add_argument("--envs", default="1,4,8")
    args = p.parse_args()
    lat = latency(args.steps, args.resets)
    print(f"Mobile-v0 at {lat['size']} (touch, mobile emulation), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, browser {lat['browser']}")
    print_latency(lat)
    print_memory(memory([int(x) for x in args.envs.split(",")], "stepgym/Mobile-v0", TASK, MOBILE_WARM))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
