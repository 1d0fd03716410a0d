"""Offline step scores on recorded Mobile-v0 demonstrations beside the same policy's live success.

The policy is the oracle with noise: at each step, with probability eps, it answers a uniformly
random action of the env's `available_actions` instead. Live, it plays Mobile-v0 in Chromium
(the oracle replans from whatever state the noise left); offline, it answers on the oracle's own
recordings (39 episodes, one per template), teacher-forced, scored by the stepgym-mobile card.

    python benchmarks/offline_vs_live.py [--eps 0 0.1 0.3] [--episodes 39]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgym.agents import OraclePolicy  # noqa: E402
from stepgym.agents.base import AgentAction, AgentInput, Policy  # noqa: E402
from stepgym.envs import EnvPool  # noqa: E402
from stepgym.episodes import EpisodeWriter, summarize  # noqa: E402
from stepgym.episodes.offline import get_card, load  # noqa: E402
from stepgym.episodes.offline.predict import ReplayPolicy, run_policy  # noqa: E402
from stepgym.runner import EpisodeJob, collect_episodes  # noqa: E402


class Noisy(Policy):
    """`inner`'s action, or with probability eps a random one of info["available_actions"]."""

    def __init__(self, inner: Policy, eps: float, seed: int = 0) -> None:
        self.inner, self.eps, self.rng = inner, eps, np.random.default_rng(seed)
        self.name = f"{inner.name}+noise{eps}"

    def bind(self, pool) -> None:
        self.inner.bind(pool)

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        out = self.inner.act(inputs)
        for i, inp in enumerate(inputs):
            choices = inp.info.get("available_actions") or []
            if choices and self.rng.random() < self.eps:
                out[i] = AgentAction(text=choices[int(self.rng.integers(len(choices)))])
        return out


def play(policy: Policy, episodes: int, record: Path | None = None):
    pool = EnvPool("stepgym/Mobile-v0", num_envs=2)
    try:
        writer = EpisodeWriter(record) if record else None
        eps = collect_episodes(pool, policy, [EpisodeJob(seed=s) for s in range(episodes)], writer=writer)
        if writer:
            writer.close()
    finally:
        pool.close()
    return eps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eps", type=float, nargs="+", default=[0.0, 0.1, 0.3])
    ap.add_argument("--episodes", type=int, default=39)
    args = ap.parse_args()
    card = get_card("stepgym", "mobile")
    with tempfile.TemporaryDirectory() as d:
        rec = Path(d) / "oracle"
        t = time.perf_counter()
        demos = play(OraclePolicy(), args.episodes, rec)
        print(f"recorded {len(demos)} oracle episodes ({sum(e.num_steps for e in demos)} steps, "
              f"success {summarize(demos).success_rate:.0%}) in {time.perf_counter() - t:.0f} s")
        print(f"{'eps':>5} | {'live success [95% CI]':>24} | {'offline step acc':>16} | {'offline episode success':>23}")
        for eps in args.eps:
            live = summarize(play(Noisy(OraclePolicy(), eps, seed=1), args.episodes))
            off = run_policy(card, card.make_params(), load("stepgym", rec), Noisy(ReplayPolicy(), eps, seed=1))
            m, ci = off["metrics"], off["intervals"]
            print(f"{eps:5.2f} | {live.success_rate:6.1%} [{live.success_ci[0]:.2f}, {live.success_ci[1]:.2f}]     | "
                  f"{m['step_accuracy']:6.1%} [{ci['step_accuracy'][0]:.2f}, {ci['step_accuracy'][1]:.2f}] | "
                  f"{m['episode_success']:6.1%} [{ci['episode_success'][0]:.2f}, {ci['episode_success'][1]:.2f}]")


if __name__ == "__main__":
    main()
