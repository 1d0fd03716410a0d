"""gigpo_advantages at 10k / 100k / 1M step rows beside a plain-loop implementation (same inputs).

The loop baseline mirrors a straightforward Python implementation (per-step dict grouping and
an inner loop for discounted returns); it is only run up to 100k rows, where it already takes
seconds.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgym.trainers.advantages import gigpo_advantages  # noqa: E402


def make_batch(n_steps: int, seed: int = 0, group_size: int = 8, ep_len: int = 15):
    rng = np.random.default_rng(seed)
    n_eps = n_steps // ep_len
    lengths = rng.integers(1, 2 * ep_len, size=n_eps)
    lengths = lengths[np.cumsum(lengths) <= n_steps]
    ep = np.repeat(np.arange(len(lengths)), lengths)
    grp = ep // group_size
    r = (rng.random(len(ep)) < 0.05).astype(float)
    keys = [f"s{k}" for k in rng.integers(0, 40, size=len(ep))]
    return r, ep, grp, keys


def loop_gigpo(r, ep, grp, keys, gamma=0.95, eps=1e-6):
    n = len(r)
    ret = np.zeros(n)
    for t in range(n):  # O(L) inner loop per step
        disc, k = 1.0, t
        while k < n and ep[k] == ep[t]:
            ret[t] += disc * r[k]
            disc *= gamma
            k += 1
    ep_ret = defaultdict(float)
    ep_grp = {}
    for x, e, g in zip(r, ep, grp):
        ep_ret[e] += x
        ep_grp[e] = g
    by_group = defaultdict(list)
    for e, g in ep_grp.items():
        by_group[g].append(ep_ret[e])
    by_state = defaultdict(list)
    for t in range(n):
        by_state[(grp[t], keys[t])].append(ret[t])

    def norm(v, vals):
        if len(vals) < 2:
            return 0.0
        return (v - np.mean(vals)) / (np.std(vals, ddof=1) + eps)

    return np.array([norm(ep_ret[ep[t]], by_group[grp[t]]) + norm(ret[t], by_state[(grp[t], keys[t])])
                     for t in range(n)])


def timed(fn, *args, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    print(f"{'steps':>10} {'vectorised':>12} {'plain loop':>12} {'speed-up':>9}")
    for n in (10_000, 100_000, 1_000_000):
        batch = make_batch(n)
        t_vec, a = timed(gigpo_advantages, *batch)
        if n <= 100_000:
            t_loop, b = timed(loop_gigpo, *batch, repeat=1)
            assert np.allclose(a, b, atol=1e-6), "vectorised and loop results differ"
            print(f"{len(batch[0]):>10,} {t_vec:>11.3f}s {t_loop:>11.3f}s {t_loop / t_vec:>8.0f}x")
        else:
            print(f"{len(batch[0]):>10,} {t_vec:>11.3f}s {'(skipped)':>12}")


if __name__ == "__main__":
    main()
