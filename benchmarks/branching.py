"""What a fork costs (`EnvPool.fork`), per registered env: native snapshot vs replay of the prefix.

For each env: reset, take D valid non-final actions (D = 5 and 15; one-step envs fork at depth 0),
then time forks into a second env, native (where the env has a snapshot) and by replay of the
reset and the D actions, both checked. Baseline from the same run: the mean cost of one step of
that env while the prefix was played, so "replay / step" says how many steps a replay is worth.

    python benchmarks/branching.py [--only Sokoban,ToolUse] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import stepgym
from stepgym.envs import EnvPool

_CALC = '<tool_call>{"name": "calculator", "arguments": {"expression": "12 * 7"}}</tool_call>'
_SEARCH = '<tool_call>{"name": "search", "arguments": {"query": "founded"}}</tool_call>'
_PY = '<tool_call>{"name": "python", "arguments": {"code": "print(6 * 7)"}}</tool_call>'
# valid actions that never end an episode, cycled (the one-step envs are forked right after reset)
ACTIONS: dict[str, list] = {
    "Sokoban": ["jump"],  # refused moves: the grid cannot get solved by accident
    "ToolUse": [_CALC, _SEARCH, _PY],
    "WebShop": ["search[red shoes]", "click[back to search]"],
    "VideoSearch": ["frames(start=0.0, end=1.0, n=1)"],
    "Desktop-pyautogui": ["pyautogui.moveTo(300, 300)", "pyautogui.scroll(-1)"],
    "Desktop": ['{"action_type": "MOVE_TO", "x": 300, "y": 300}', '{"action_type": "SCROLL", "dy": -1}'],
    "Mobile": ['{"action_type": "scroll", "direction": "down"}', '{"action_type": "scroll", "direction": "up"}'],
}
ONE_STEP = ("VideoQA", "OfflineSteps")


def _actions(env_id: str) -> list | None:
    name = env_id.split("/")[-1].rsplit("-v", 1)[0]
    for key in sorted(ACTIONS, key=len, reverse=True):
        if name.startswith(key):
            return ACTIONS[key]
    return None


def measure(env_id: str, depth: int, repeats: int) -> dict[str, float | str | None]:
    actions = _actions(env_id)
    kwargs = {} if any(k in env_id for k in ONE_STEP) else {"max_steps": 40}
    with EnvPool(env_id, num_envs=2, env_kwargs=kwargs) as pool:
        pool.reset([0], seeds=[1])
        t0 = time.perf_counter()
        for t in range(depth):
            res = pool.step({0: actions[t % len(actions)]})[0]
            if res.done or not (res.info["action_valid"] or "Sokoban" in env_id):
                raise RuntimeError(f"{env_id}: prefix action {t} ended the episode or was refused: {res.info}")
        step_ms = (time.perf_counter() - t0) * 1000 / depth if depth else None
        pool.fork(0, [1])  # warm: the destination's browser, caches
        out: dict[str, float | str | None] = {"env": env_id, "depth": depth, "step_ms": step_ms}
        native = bool(pool.call("native_fork", [0])[0])
        for method in (["native"] if native else []) + ["replay"]:
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                pool.fork(0, [1], native=method == "native")
                times.append((time.perf_counter() - t0) * 1000)
            out[method] = statistics.median(times)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated name fragments of env ids to measure")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    ids = [i for i in stepgym.list_envs() if not args.only or any(k in i for k in args.only.split(","))]
    print(f"{'env':32} {'depth':>5} {'native ms':>10} {'replay ms':>10} {'step ms':>8} {'replay/native':>13} "
          f"{'replay/step':>11}")
    for env_id in ids:
        depths = [0] if any(k in env_id for k in ONE_STEP) else [5, 15]
        for depth in depths:
            r = measure(env_id, depth, args.repeats)
            native, replay, step = r.get("native"), r["replay"], r["step_ms"]
            ratio = f"{replay / native:13.1f}" if native else f"{'—':>13}"
            per_step = f"{replay / step:11.1f}" if step else f"{'—':>11}"
            print(f"{env_id:32} {depth:5d} {native if native else float('nan'):10.2f} {replay:10.2f} "
                  f"{step if step else float('nan'):8.2f} {ratio} {per_step}", flush=True)


if __name__ == "__main__":
    main()
