"""Advantage estimators: pure, vectorised numpy functions over flat per-step or per-episode arrays.

Shapes: S = number of step rows, E = number of episodes. Steps of one episode are contiguous
and in order. Every function costs O(S) (plus one hash pass to factorise keys).

- GRPO (Shao et al., 2024): A = (R - mean_g) / (std_g + eps) within each group of episodes.
- GiGPO (Feng et al., 2025): A = A^E + omega * A^S, where A^S normalises discounted returns
  within "step groups": steps of the same episode group taken in the same state (`state_key`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Normalize = Literal["mean_std", "mean"]


def _factorize(keys: Sequence | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..K-1 for arbitrary hashable keys (first-seen order) and K."""
    arr = np.asarray(keys) if not isinstance(keys, np.ndarray) else keys
    if arr.dtype.kind in "iub":
        _, codes = np.unique(arr, return_inverse=True)
        return codes.astype(np.int64).ravel(), int(codes.max(initial=-1)) + 1
    table: dict = {}
    codes = np.fromiter((table.setdefault(k, len(table)) for k in keys), dtype=np.int64, count=len(keys))
    return codes, len(table)


def _normalize_in_groups(values: np.ndarray, codes: np.ndarray, n_groups: int,
                         normalize: Normalize, eps: float) -> np.ndarray:
    """(v - mean_g) / (std_g + eps) per group (unbiased std); 0 for groups of one row."""
    if normalize not in ("mean_std", "mean"):
        raise ValueError(f"normalize must be 'mean_std' or 'mean', got {normalize!r}")
    count = np.bincount(codes, minlength=n_groups)
    mean = np.bincount(codes, weights=values, minlength=n_groups) / np.maximum(count, 1)
    centred = values - mean[codes]
    if normalize == "mean_std":
        var = np.bincount(codes, weights=centred**2, minlength=n_groups) / np.maximum(count - 1, 1)
        centred = centred / (np.sqrt(var)[codes] + eps)
    return np.where(count[codes] > 1, centred, 0.0)


def _episode_bounds(episode_ids: Sequence | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes per step, start index of each episode), checking that episodes are contiguous."""
    codes, n = _factorize(episode_ids)
    if len(codes) == 0:
        return codes, np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(np.diff(codes) != 0) + 1
    starts = np.concatenate([[0], change])
    if len(starts) != n:
        raise ValueError(
            "steps of each episode must be contiguous in episode_ids; "
            f"found {len(starts)} runs for {n} episodes"
        )
    return codes, starts


def discounted_returns(step_rewards: np.ndarray, episode_ids: Sequence | np.ndarray,
                       gamma: float) -> np.ndarray:
    """R_t = sum_{k>=t} gamma^(k-t) r_k within each episode.

    Args:
        step_rewards: [S] float rewards.
        episode_ids: [S] episode id of each step (contiguous, in step order).
        gamma: discount in [0, 1].
    Returns:
        [S] float64 discounted returns.
    """
    r = np.asarray(step_rewards, dtype=np.float64)
    if r.ndim != 1 or len(r) != len(episode_ids):
        raise ValueError(f"step_rewards must be 1-D and match episode_ids: {r.shape} vs {len(episode_ids)}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if len(r) == 0:
        return r.copy()
    _, starts = _episode_bounds(episode_ids)
    lengths = np.diff(np.append(starts, len(r)))
    # Lay episodes out as rows of a [E, L_max] matrix (zero-padded on the right: trailing zeros
    # do not change any return) and run the backward recursion over columns, all rows at once.
    pos = np.arange(len(r)) - np.repeat(starts, lengths)
    row = np.repeat(np.arange(len(starts)), lengths)
    grid = np.zeros((len(starts), int(lengths.max())))
    grid[row, pos] = r
    for j in range(grid.shape[1] - 2, -1, -1):
        grid[:, j] += gamma * grid[:, j + 1]
    return grid[row, pos]


def grpo_advantages(episode_returns: np.ndarray, group_ids: Sequence | np.ndarray,
                    normalize: Normalize = "mean_std", eps: float = 1e-6) -> np.ndarray:
    """GRPO advantages: each return normalised within its group.

    Args:
        episode_returns: [E] returns.
        group_ids: [E] group of each episode (e.g. one group per task instance).
        normalize: "mean_std" divides by the unbiased group std (+eps); "mean" only centres.
    Returns:
        [E] advantages; 0 for an episode alone in its group.
    """
    R = np.asarray(episode_returns, dtype=np.float64)
    if R.ndim != 1 or len(R) != len(group_ids):
        raise ValueError(f"episode_returns must be 1-D and match group_ids: {R.shape} vs {len(group_ids)}")
    codes, n = _factorize(group_ids)
    return _normalize_in_groups(R, codes, n, normalize, eps)


def rloo_advantages(episode_returns: np.ndarray, group_ids: Sequence | np.ndarray) -> np.ndarray:
    """REINFORCE leave-one-out: R_i minus the mean return of the *other* episodes in its group.

    Returns [E] advantages; 0 for an episode alone in its group.
    """
    R = np.asarray(episode_returns, dtype=np.float64)
    codes, n = _factorize(group_ids)
    count = np.bincount(codes, minlength=n)
    total = np.bincount(codes, weights=R, minlength=n)
    c = count[codes]
    loo_mean = (total[codes] - R) / np.maximum(c - 1, 1)
    return np.where(c > 1, R - loo_mean, 0.0)


def gigpo_advantages(
    step_rewards: np.ndarray,
    episode_ids: Sequence | np.ndarray,
    group_ids: Sequence | np.ndarray,
    state_keys: Sequence,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    normalize: Normalize = "mean_std",
    episode_weighting: Literal["trajectory", "step"] = "trajectory",
    eps: float = 1e-6,
) -> np.ndarray:
    """GiGPO step advantages A = A^E + omega * A^S.

    Args:
        step_rewards: [S] reward of each step.
        episode_ids: [S] episode of each step (contiguous, in order).
        group_ids: [S] episode group of each step (constant within an episode).
        state_keys: [S] state in which each step's action was taken.
        episode_weighting: "trajectory" takes A^E's group statistics over the group's episodes
            (the paper); "step" over its step rows, each carrying its episode's return
            (verl-agent), which weights long episodes more.
    Returns:
        [S] advantages. A^E uses the undiscounted episode return sum_t r_t; A^S normalises the
        discounted return R_t within the step group (same group, equal state_key), 0 for a
        singleton step group.
    """
    r = np.asarray(step_rewards, dtype=np.float64)
    S = len(r)
    if not (len(episode_ids) == len(group_ids) == len(state_keys) == S):
        raise ValueError(
            f"step arrays differ in length: rewards {S}, episode_ids {len(episode_ids)}, "
            f"group_ids {len(group_ids)}, state_keys {len(state_keys)}"
        )
    if episode_weighting not in ("trajectory", "step"):
        raise ValueError(f"episode_weighting must be 'trajectory' or 'step', got {episode_weighting!r}")
    if S == 0:
        return r.copy()
    ep_codes, starts = _episode_bounds(episode_ids)
    n_eps = len(starts)
    ep_return = np.bincount(ep_codes, weights=r, minlength=n_eps)
    group_codes, n_groups = _factorize(group_ids)
    ep_group = group_codes[starts]
    if np.any(group_codes != ep_group[ep_codes]):
        raise ValueError("group_ids must be constant within each episode")

    if episode_weighting == "trajectory":
        a_episode = _normalize_in_groups(ep_return, ep_group, n_groups, normalize, eps)[ep_codes]
    else:
        per_step_return = ep_return[ep_codes]
        a_episode = _normalize_in_groups(per_step_return, group_codes, n_groups, normalize, eps)
        # a group holding a single episode has no baseline, whatever its length
        eps_per_group = np.bincount(ep_group, minlength=n_groups)
        a_episode = np.where(eps_per_group[group_codes] > 1, a_episode, 0.0)

    returns = discounted_returns(r, ep_codes, gamma)
    step_codes, n_step_groups = _factorize(list(zip(group_codes.tolist(), state_keys)))
    a_step = _normalize_in_groups(returns, step_codes, n_step_groups, normalize, eps)
    return a_episode + omega * a_step
