"""Rollout speed: 8 Sokoban envs driven by the tiny HF model on CPU, against envs alone.

Prints env steps per second for (a) the random policy (env cost only, the baseline) and (b) the
tiny Qwen2.5-VL through `HFPolicy`, and where (b)'s time goes: prompt encoding (chat template +
qwen-vl-utils + processor), generation, and the envs plus bookkeeping.

Wall-clock rates swing with other load on a shared machine; the CPU-second rates are steadier.
Run: `python benchmarks/rollout.py [--episodes 16] [--max-new-tokens 16] [--size tiny]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from stepgym.agents import RandomPolicy  # noqa: E402
from stepgym.agents.hf import GenerationSettings, HFPolicy  # noqa: E402
from stepgym.agents.tiny import build_tiny_vlm, describe  # noqa: E402
from stepgym.envs.pool import EnvPool  # noqa: E402
from stepgym.runner import EpisodeJob, collect_episodes  # noqa: E402


class Timed(HFPolicy):
    """HFPolicy that adds up the seconds spent encoding prompts and generating."""

    encode_s = 0.0
    generate_s = 0.0
    calls = 0

    def act(self, inputs):
        t0 = time.perf_counter()
        prompts = self.encode(inputs)
        t1 = time.perf_counter()
        out = self.generate(prompts)
        t2 = time.perf_counter()
        self.encode_s += t1 - t0
        self.generate_s += t2 - t1
        self.calls += 1
        return out


def run(policy, episodes: int, num_envs: int) -> tuple[int, float, float]:
    """(steps, wall seconds, CPU seconds of this process) of playing `episodes` episodes."""
    pool = EnvPool("stepgym/Sokoban-v0", num_envs=num_envs, env_kwargs={"max_steps": 10})
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        eps = collect_episodes(pool, policy, [EpisodeJob(seed=i) for i in range(episodes)], save_images=False)
        return sum(e.num_steps for e in eps), time.perf_counter() - t0, time.process_time() - c0
    finally:
        pool.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--num-envs", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--size", default="tiny")
    args = ap.parse_args()

    steps, secs, cpu = run(RandomPolicy(seed=0), args.episodes * 4, args.num_envs)
    print(f"random policy (env only): {steps} steps in {secs:.2f}s = {steps / secs:,.0f} steps/s "
          f"({steps / cpu:,.0f} steps per CPU-second)")

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_vlm(Path(tmp) / "tiny", size=args.size)
        policy = Timed(model_dir, config=GenerationSettings(max_new_tokens=args.max_new_tokens, seed=0),
                       device="cpu")
        info = describe(policy.model)
        run(policy, 1, 1)  # warm-up
        policy.encode_s = policy.generate_s = 0.0
        policy.calls = 0
        steps_m, secs_m, cpu_m = run(policy, args.episodes, args.num_envs)
    other = secs_m - policy.encode_s - policy.generate_s
    print(f"tiny HF model ({args.size}, {info['params']:,} params, torch threads {torch.get_num_threads()}): "
          f"{steps_m} steps in {secs_m:.2f}s = {steps_m / secs_m:.1f} steps/s "
          f"({steps_m / cpu_m:.1f} steps per CPU-second; {policy.calls} batched act calls of "
          f"{args.num_envs} envs, {args.max_new_tokens} new tokens max)")
    print(f"  per act call: {secs_m / policy.calls:.3f}s wall")
    print(f"  generation  {policy.generate_s:6.2f}s  {policy.generate_s / secs_m:6.1%}")
    print(f"  encoding    {policy.encode_s:6.2f}s  {policy.encode_s / secs_m:6.1%}")
    print(f"  env + rest  {other:6.2f}s  {other / secs_m:6.1%}")
    print(f"slowdown vs env alone: {(steps / secs) / (steps_m / secs_m):,.0f}x")


if __name__ == "__main__":
    main()
