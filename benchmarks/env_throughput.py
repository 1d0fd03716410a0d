"""Sokoban steps per second in one process: text-only and with rendered images.

Baseline in the same run: the raw game logic (`apply_move`) without the env wrapper, so the
ratio shows what the contract (parsing, info, observation text) costs. Target: >= 20,000
text steps/s on one core of the development machine.
"""

from __future__ import annotations

import time

import stepgym
from stepgym.envs.sokoban.level import Level, apply_move

ACTIONS = ["up", "<action>left</action>", "down", "right", "jump"]


def env_rate(image: bool, seconds: float = 2.0) -> float:
    env = stepgym.make("stepgym/Sokoban-v0", image=image, max_steps=50).unwrapped  # no wrappers
    env.reset(seed=0)
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            _, _, term, trunc, _ = env.step(ACTIONS[i % 5])
            i += 1
            if term or trunc:
                env.reset(seed=i)
        n += 1000
    return n / (time.perf_counter() - t0)


def raw_rate(seconds: float = 1.0) -> float:
    env = stepgym.make("stepgym/Sokoban-v0").unwrapped
    env.reset(seed=0)
    level: Level = env.level
    p, b = level.player, level.boxes
    moves = ["up", "left", "down", "right"]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for k in range(1000):
            p, b, _ = apply_move(level, p, b, moves[k % 4])
        n += 1000
    return n / (time.perf_counter() - t0)


def main() -> None:
    raw = raw_rate()
    text = env_rate(image=False)
    wrapped = stepgym.make("stepgym/Sokoban-v0", image=False)  # with gymnasium's wrappers
    wrapped.reset(seed=0)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < 1.0:
        _, _, term, trunc, _ = wrapped.step(ACTIONS[n % 5])
        n += 1
        if term or trunc:
            wrapped.reset(seed=n)
    wrapped_rate = n / (time.perf_counter() - t0)
    img = env_rate(image=True)
    print(f"raw game logic (baseline):     {raw:>10,.0f} moves/s")
    print(f"Sokoban-v0 text only:          {text:>10,.0f} steps/s  ({text / raw:.2f}x baseline)"
          f"  target >= 20,000: {'ok' if text >= 20_000 else 'MISSED'}")
    print(f"  through gymnasium.make:      {wrapped_rate:>10,.0f} steps/s  (env checker + order + time-limit wrappers)")
    print(f"Sokoban-v0 text + 96x96 image: {img:>10,.0f} steps/s  ({img / raw:.2f}x baseline)")


if __name__ == "__main__":
    main()
