"""Advantages against hand-computed cases and against plain-loop reference implementations."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from numpy.testing import assert_allclose

from stepgym.trainers.advantages import (
    discounted_returns,
    gigpo_advantages,
    grpo_advantages,
    rloo_advantages,
)

EPS = 1e-6


# -- plain-loop references (deliberately naive) -----------------------------------------------
def ref_returns(r, ep, gamma):
    out = [0.0] * len(r)
    for t in range(len(r)):
        k, disc = t, 1.0
        while k < len(r) and ep[k] == ep[t]:
            out[t] += disc * r[k]
            disc *= gamma
            k += 1
    return out


def ref_normalize(values, keys, mode):
    groups = defaultdict(list)
    for v, k in zip(values, keys):
        groups[k].append(v)
    out = []
    for v, k in zip(values, keys):
        g = groups[k]
        if len(g) == 1:
            out.append(0.0)
            continue
        m = sum(g) / len(g)
        sd = math.sqrt(sum((x - m) ** 2 for x in g) / (len(g) - 1))
        out.append((v - m) / (sd + EPS) if mode == "mean_std" else v - m)
    return out


def ref_gigpo(r, ep, grp, keys, gamma, omega, mode, weighting):
    ep_ret = defaultdict(float)
    for x, e in zip(r, ep):
        ep_ret[e] += x
    if weighting == "trajectory":
        eps = list(dict.fromkeys(ep))
        ep_group = {e: grp[ep.index(e)] for e in eps}
        a = ref_normalize([ep_ret[e] for e in eps], [ep_group[e] for e in eps], mode)
        a_ep = dict(zip(eps, a))
        a_e = [a_ep[e] for e in ep]
    else:
        a_e = ref_normalize([ep_ret[e] for e in ep], grp, mode)
        n_eps = defaultdict(set)
        for e, g in zip(ep, grp):
            n_eps[g].add(e)
        a_e = [x if len(n_eps[g]) > 1 else 0.0 for x, g in zip(a_e, grp)]
    R = ref_returns(r, ep, gamma)
    a_s = ref_normalize(R, list(zip(grp, keys)), mode)
    return [x + omega * y for x, y in zip(a_e, a_s)]


# -- hand-computed cases ------------------------------------------------------------------------
def test_discounted_returns_by_hand():
    r = np.array([0, 0, 1, 0, 1, 2.0])
    ep = [7, 7, 7, 3, 3, 9]
    assert_allclose(discounted_returns(r, ep, 0.5), [0.25, 0.5, 1.0, 0.5, 1.0, 2.0])


def test_discounted_returns_rejects_interleaved_episodes():
    with pytest.raises(ValueError, match="contiguous"):
        discounted_returns(np.zeros(3), [0, 1, 0], 0.9)


def test_grpo_by_hand():
    # group a: returns 1, 1, 0 -> mean 2/3, std (ddof=1) = sqrt(1/3)
    adv = grpo_advantages(np.array([1.0, 1.0, 0.0, 5.0, 0.3, 0.3]), ["a", "a", "a", "b", "c", "c"])
    s = math.sqrt(1 / 3)
    assert_allclose(adv[:3], [(1 / 3) / (s + EPS), (1 / 3) / (s + EPS), (-2 / 3) / (s + EPS)])
    assert adv[3] == 0.0  # an episode alone in its group
    assert_allclose(adv[4:], [0.0, 0.0])  # std = 0
    assert_allclose(grpo_advantages(np.array([1.0, 0.0]), [0, 0], normalize="mean"), [0.5, -0.5])


def test_rloo_by_hand():
    adv = rloo_advantages(np.array([1.0, 0.0, 0.0, 4.0]), [0, 0, 0, 1])
    assert_allclose(adv, [1.0, -0.5, -0.5, 0.0])


def test_gigpo_three_episodes_with_repeated_state():
    """Three episodes of one group. States a (all three), b (ep 0 and 2), c (ep 0 and 1), d (ep 2 only).

        ep 0: a -> b -> c, rewards 0, 0, 1      (return 1)
        ep 1: a -> c,      rewards 0, 1         (return 1)
        ep 2: a -> b -> d, rewards 0, 0, 0      (return 0)
    gamma = 0.5: discounted returns ep0 [.25, .5, 1], ep1 [.5, 1], ep2 [0, 0, 0].
    """
    r = np.array([0, 0, 1, 0, 1, 0, 0, 0.0])
    ep = [0, 0, 0, 1, 1, 2, 2, 2]
    keys = ["a", "b", "c", "a", "c", "a", "b", "d"]
    adv = gigpo_advantages(r, ep, [0] * 8, keys, gamma=0.5)
    s_e = math.sqrt(1 / 3)
    a_e = np.array([1 / 3] * 5 + [-2 / 3] * 3) / (s_e + EPS)
    a_s = np.zeros(8)
    # state a: returns .25 (ep0), .5 (ep1), 0 (ep2): mean .25, std .25
    a_s[[0, 3, 5]] = np.array([0.0, 0.25, -0.25]) / (0.25 + EPS)
    # state b: .5 (ep0), 0 (ep2): mean .25, std sqrt(.125)
    a_s[[1, 6]] = np.array([0.25, -0.25]) / (math.sqrt(0.125) + EPS)
    # state c: 1 and 1 -> std 0 -> 0; state d: singleton -> 0
    assert_allclose(adv, a_e + a_s, rtol=1e-12)


def test_gigpo_singleton_group_and_omega():
    r = np.array([0.0, 1.0])
    adv = gigpo_advantages(r, [0, 0], ["solo", "solo"], ["x", "x"], gamma=0.9)
    # one episode: no episode baseline; both steps share state x: returns .9 and 1
    sd = math.sqrt(((0.9 - 0.95) ** 2 + (1 - 0.95) ** 2) / 1)
    assert_allclose(adv, [-0.05 / (sd + EPS), 0.05 / (sd + EPS)])
    assert_allclose(gigpo_advantages(r, [0, 0], ["solo"] * 2, ["x", "y"], omega=0.0), [0.0, 0.0])


def test_gigpo_step_weighting_differs_from_trajectory():
    # group: ep0 long (3 steps) return 1, ep1 short (1 step) return 0
    r = np.array([0, 0, 1, 0.0])
    ep, grp, keys = [0, 0, 0, 1], [0] * 4, ["a", "b", "c", "z"]
    traj = gigpo_advantages(r, ep, grp, keys)
    step = gigpo_advantages(r, ep, grp, keys, episode_weighting="step")
    assert_allclose(traj, [0.5 / (math.sqrt(0.5) + EPS)] * 3 + [-0.5 / (math.sqrt(0.5) + EPS)])
    # step rows: returns [1, 1, 1, 0]: mean .75, std .5
    assert_allclose(step, [0.25 / (0.5 + EPS)] * 3 + [-0.75 / (0.5 + EPS)])


def test_gigpo_validates_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        gigpo_advantages(np.zeros(3), [0, 0, 0], [0, 0], ["a"] * 3)
    with pytest.raises(ValueError, match="constant within each episode"):
        gigpo_advantages(np.zeros(2), [0, 0], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="normalize"):
        grpo_advantages(np.zeros(2), [0, 0], normalize="z")


# -- against the plain loops on random batches ----------------------------------------------------
def _random_batch(rng, n_groups=6, group_size=4, max_len=7, n_states=5):
    r, ep, grp, keys = [], [], [], []
    e = 0
    for g in range(n_groups):
        for _ in range(group_size):
            n = int(rng.integers(1, max_len + 1))
            r += rng.choice([0.0, 0.0, 0.1, 1.0], size=n).tolist()
            ep += [e] * n
            grp += [f"g{g}"] * n
            keys += [f"s{int(k)}" for k in rng.integers(n_states, size=n)]
            e += 1
    return np.array(r), ep, grp, keys


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("mode", ["mean_std", "mean"])
@pytest.mark.parametrize("weighting", ["trajectory", "step"])
def test_gigpo_matches_loop_reference(seed, mode, weighting):
    rng = np.random.default_rng(seed)
    r, ep, grp, keys = _random_batch(rng)
    got = gigpo_advantages(r, ep, grp, keys, gamma=0.95, omega=0.7, normalize=mode,
                           episode_weighting=weighting)
    want = ref_gigpo(r.tolist(), ep, grp, keys, 0.95, 0.7, mode, weighting)
    assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_returns_and_grpo_match_loop_reference(seed):
    rng = np.random.default_rng(seed)
    r, ep, grp, _ = _random_batch(rng)
    assert_allclose(discounted_returns(r, ep, 0.9), ref_returns(r.tolist(), ep, 0.9), atol=1e-9)
    R = rng.normal(size=40)
    g = rng.integers(0, 9, size=40)
    assert_allclose(grpo_advantages(R, g), ref_normalize(R.tolist(), g.tolist(), "mean_std"), atol=1e-9)
