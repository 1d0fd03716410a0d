"""Forking an env mid-episode: `EnvPool.fork(src, dsts)` puts env `src`'s exact state into `dsts`.

Two ways, chosen per env class, and both checked:

- **native**: envs whose state is cheap to copy (Sokoban, WebShop, ToolUse, the video envs,
  OfflineSteps) implement `StepEnv._snapshot_state` / `_restore_state`; the fork is
  `dst.restore(src.snapshot())`.
- **replay**: every other env (the browser envs: Desktop, Mobile) is rebuilt by replaying the
  source's reset (same seed and options; without a seed, the RNG state its reset had) and its
  action prefix, which every `StepEnv` records. Envs are deterministic per seed and task, so
  the replay arrives where the source is; a browser fork gets a browser context of its own.

Either way the fork's `state_key` and observation (text and every array, pixel for pixel) are
compared with the source's, and a difference raises `ForkMismatch`: a fork never continues
silently from another state. A replay is also checked step by step against the state keys the
source passed through, so the error names the first step that went elsewhere.

A `TimeLimit` wrapper (an id registered with `max_episode_steps`) counts steps outside the env:
such ids always fork by replay through the pool, which steps the wrappers too. What a native
snapshot cannot see is state outside the env object: a user's tool that keeps state of its own
between calls (ToolUse's shipped tools are pure functions) needs `native=False` there.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# `EnvPool` is only a type here: pool.py imports this module, so this one must not import pool.py
EnvPool = Any


class ForkError(RuntimeError):
    """An env cannot be forked as asked (no episode, a finished one, another env class)."""


class ForkNotSupported(ForkError, NotImplementedError):
    """The env has no native snapshot; `EnvPool.fork` replays its action prefix instead."""


class ForkMismatch(ForkError):
    """A fork is not in its source's state (its state key or observation differs)."""


@dataclass
class EpisodePrefix:
    """What rebuilds an episode by replay: its reset and the actions taken since (in order)."""

    seed: int | None
    options: dict[str, Any] | None
    rng_state: dict[str, Any]  # the env's RNG right after its reset's seeding
    actions: list[Any] = field(default_factory=list)
    state_keys: list[str] = field(default_factory=list)  # after the reset, then after each action
    extras: dict[str, Any] = field(default_factory=dict)  # `StepEnv._replay_extras()` of the source


@dataclass
class EnvSnapshot:
    """A `StepEnv`'s exact episode state: the base class's part and the env's own (`state`)."""

    env_class: str
    task: Any
    steps: int
    last_error: str | None
    rng_state: dict[str, Any]
    prefix: EpisodePrefix
    state: Any


@dataclass(frozen=True)
class ForkResult:
    """One fork: the env it made, its observation and how it got there."""

    env_index: int
    obs: dict[str, Any]
    state_key: str
    method: str  # "native" or "replay"
    steps: int  # actions replayed (replay) or the depth snapshotted (native)


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """A NumPy Generator whose bit generator is in `state` (a `bit_generator.state` dict)."""
    name = state.get("bit_generator")
    bit_gen_cls = getattr(np.random, str(name), None)
    if bit_gen_cls is None:
        raise ForkError(f"unknown NumPy bit generator {name!r} in a fork's RNG state")
    bit_gen = bit_gen_cls()
    bit_gen.state = copy.deepcopy(state)
    return np.random.Generator(bit_gen)


def observation_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """None when two observations are equal (arrays pixel for pixel), else what differs, in words."""
    if set(a) != set(b):
        return f"keys {sorted(a)} vs {sorted(b)}"
    for key in sorted(a):
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            x, y = np.asarray(x), np.asarray(y)
            if x.shape != y.shape:
                return f"{key!r} has shape {x.shape} vs {y.shape}"
            if not np.array_equal(x, y):
                return f"{key!r} differs in {int(np.count_nonzero(x != y))} of {x.size} values"
        elif x != y:
            if isinstance(x, str) and isinstance(y, str):
                at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
                return f"{key!r} differs from character {at}: {x[at:at + 60]!r} vs {y[at:at + 60]!r}"
            return f"{key!r} is {x!r:.80} vs {y!r:.80}"
    return None


def _uses_time_limit(pool: EnvPool) -> bool:
    import gymnasium

    if pool.env_id is None:
        return False
    try:
        return gymnasium.spec(pool.env_id.split(":")[-1]).max_episode_steps is not None
    except gymnasium.error.Error:
        return False


def fork_envs(pool: EnvPool, src: int, dsts: Sequence[int], *, native: bool | None = None) -> list[ForkResult]:
    """Put env `src`'s episode into each env of `dsts` (see the module docstring); checked.

    `native=None` picks the env's own way (native where it has a snapshot); False forces replay.
    The destinations' own episodes are abandoned. Returns one `ForkResult` per destination.
    """
    dsts = [int(d) for d in dsts]
    idx = pool._indices([src, *dsts])
    src = idx[0]
    if src in dsts:
        raise ValueError(f"env {src} cannot be forked into itself (dsts={dsts})")
    if len(set(dsts)) != len(dsts):
        raise ValueError(f"fork destinations repeat: {dsts}")
    if pool.done[src] or pool._last_obs[src] is None:
        raise ForkError(f"env {src} has no episode in progress to fork; reset it and fork it mid-episode")
    if not dsts:
        return []
    src_obs = pool._last_obs[src]
    if native is None:
        native = bool(pool.call("native_fork", [src])[0]) and not _uses_time_limit(pool)
    if native:
        return _fork_native(pool, src, dsts, src_obs)
    return _fork_replay(pool, src, dsts, src_obs)


def _fork_native(pool: EnvPool, src: int, dsts: list[int], src_obs: dict[str, Any]) -> list[ForkResult]:
    snap = pool.call("snapshot", [src])[0]
    never_reset = [d for d in dsts if pool._last_obs[d] is None]
    if never_reset:  # wrappers (OrderEnforcing) refuse a step before their first reset
        n = len(never_reset)
        pool.reset(never_reset, seeds=[snap.prefix.seed] * n, options=[copy.deepcopy(snap.prefix.options)] * n)
    src_key = snap.prefix.state_keys[-1]
    out = []
    for d in dsts:
        obs, key = pool.call("restore", [d], snap)[0]
        _check(pool, src, d, src_key, key, src_obs, obs, "native")
        pool.done[d] = False
        pool._last_obs[d] = obs
        out.append(ForkResult(d, obs, key, "native", snap.steps))
    return out


def _fork_replay(pool: EnvPool, src: int, dsts: list[int], src_obs: dict[str, Any]) -> list[ForkResult]:
    prefix = pool.call("episode_prefix", [src])[0]
    n = len(dsts)
    pool.call("prepare_replay", dsts, prefix)
    first = pool.reset(dsts, seeds=[prefix.seed] * n, options=[copy.deepcopy(prefix.options)] * n)
    last = {d: (obs, info) for d, (obs, info) in zip(dsts, first)}
    for d, (_, info) in last.items():
        _check_key(pool, src, d, 0, prefix.state_keys[0], info.get("state_key"))
    for t, action in enumerate(prefix.actions, start=1):
        results = pool.step({d: copy.deepcopy(action) for d in dsts})
        for d, res in results.items():
            if "error" in res.info:
                raise ForkError(f"replaying env {src}'s episode into env {d} failed at step {t}: {res.info['error']}")
            _check_key(pool, src, d, t, prefix.state_keys[t], res.info.get("state_key"))
            if res.done and t < len(prefix.actions):
                raise ForkMismatch(f"replaying env {src}'s episode into env {d}: the episode ended at step {t} "
                                   f"of {len(prefix.actions)}; {_hint(pool)}")
            last[d] = (res.obs, res.info)
    pool.call("finish_replay", dsts, prefix)
    out = []
    for d in dsts:
        obs, info = last[d]
        key = str(info.get("state_key"))
        _check(pool, src, d, prefix.state_keys[-1], key, src_obs, obs, "replay")
        out.append(ForkResult(d, obs, key, "replay", len(prefix.actions)))
    return out


def _hint(pool: EnvPool) -> str:
    return (f"{pool.env_id or 'this env'} is not deterministic for a seed and an action sequence "
            "(or the envs were made with different kwargs)")


def _check_key(pool: EnvPool, src: int, dst: int, t: int, want: str, got: Any) -> None:
    if got != want:
        raise ForkMismatch(f"replaying env {src}'s episode into env {dst}: after {t} of its actions the state "
                           f"key is {got!r} but the source's was {want!r}; {_hint(pool)}")


def _check(pool: EnvPool, src: int, dst: int, src_key: str, key: str, src_obs: dict[str, Any],
           obs: dict[str, Any], method: str) -> None:
    if key != src_key:
        raise ForkMismatch(f"{method} fork of env {src} into env {dst}: state key {key!r}, the source's is "
                           f"{src_key!r}")
    diff = observation_difference(src_obs, obs)
    if diff is not None:
        raise ForkMismatch(f"{method} fork of env {src} into env {dst}: same state key {key!r} but the "
                           f"observation differs ({diff})")
