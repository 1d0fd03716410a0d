"""Advantages over rollout trees (`trainers/branching.py`): ARPO's "hard" attribution.

ARPO's paper describes two ways to credit the tokens several branched rollouts share. "Soft" is
plain GRPO over all rollouts of a task, the shared prefix appearing once per rollout through it
(every registered estimator does this as is on a `attribution="soft"` batch). "Hard" keeps a
shared row once and gives it the mean advantage of the rollouts through it; ARPO's released code
does not implement it. This file does, for `attribution="hard"` batches, where a branch holds only
the rows from its branch step on and its `prefix_return` carries the rewards of the steps before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from stepgym.trainers.advantages import grpo_advantages
from stepgym.trainers.branching import branch_of
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.rollout import RolloutBatch, RolloutGroup

if TYPE_CHECKING:
    from stepgym.trainers.config import TrainConfig


@ESTIMATORS.register("arpo_hard")
def arpo_hard(batch: RolloutBatch, cfg: TrainConfig) -> np.ndarray:
    """ARPO hard attribution: GRPO over a task's rollouts; a row shared by several rollouts (held
    once) gets the mean of their advantages; a row of one rollout gets that rollout's."""
    a = batch.arrays
    episode_adv = grpo_advantages(a.episode_returns, a.episode_group, normalize=cfg.normalize)
    out, first = [], 0
    for group in batch.groups:
        adv = episode_adv[first: first + len(group.episodes)]
        out.extend(shared_row_advantages(group, adv))
        first += len(group.episodes)
    return np.asarray(out, dtype=np.float64)


def shared_row_advantages(group: RolloutGroup, episode_advantages: np.ndarray) -> list[float]:
    """[rows of the group, in batch order] the mean advantage of the rollouts through each row.

    A row of rollout e at step s is on e's path and on every rollout of the subtree of each child c
    of e that branched after it (c's branch step > s): those share e's steps before their branch
    step. Linear in rows plus rollouts (children sorted once by branch step).
    """
    eps = group.episodes
    index = {e.episode.episode_id: i for i, e in enumerate(eps)}
    children: list[list[tuple[int, int]]] = [[] for _ in eps]  # (branch step, child)
    for i, e in enumerate(eps):
        parent, step = branch_of(e.episode)
        if parent is None:
            continue
        if parent not in index:
            raise ValueError(f"rollout {e.episode.episode_id} names parent {parent!r}, not in its group {group.group_id}")
        if e.rows and e.rows[0].step_index != step:
            raise ValueError(f"estimator 'arpo_hard' needs rollouts that hold a shared row once: rollout "
                             f"{e.episode.episode_id} branched at step {step} but holds rows from step "
                             f"{e.rows[0].step_index}; use rollout_kwargs={{'attribution': 'hard'}}")
        children[index[parent]].append((step, i))
    total = np.asarray(episode_advantages, dtype=np.float64).copy()  # subtree sums and sizes, leaves up
    size = np.ones(len(eps))
    for i in reversed(range(len(eps))):  # a branch comes after its parent in creation order
        for _, c in children[i]:
            if c <= i:
                raise ValueError(f"rollout {eps[c].episode.episode_id} comes before its parent in group {group.group_id}")
            total[i] += total[c]
            size[i] += size[c]
    out: list[float] = []
    for i, e in enumerate(eps):
        kids = sorted(children[i])
        # suffix sums over children by branch step: those with step > s share row s
        suf_total = np.concatenate([np.cumsum([total[c] for _, c in kids][::-1])[::-1], [0.0]]) if kids else np.zeros(1)
        suf_size = np.concatenate([np.cumsum([size[c] for _, c in kids][::-1])[::-1], [0.0]]) if kids else np.zeros(1)
        steps = [b for b, _ in kids]
        k = 0
        for row in e.rows:
            while k < len(steps) and steps[k] <= row.step_index:
                k += 1
            out.append(float((episode_advantages[i] + suf_total[k]) / (1.0 + suf_size[k])))
    return out
