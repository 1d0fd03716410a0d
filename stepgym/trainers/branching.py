"""ARPO's entropy-based adaptive branching (Dong et al., 2025, "Agentic Reinforced Policy
Optimization") as a `RolloutStrategy`: `rollout="branching"`, options in `rollout_kwargs`.

Per task instance the budget is `group_size` rollouts (ARPO: 16). `initial_rollouts` (8) start
from the reset. At a branch point (after a tool response; `branch_at="any_step"`: after any env
step) with budget left, a rollout whose next action was sampled with entropy H branches with
probability

    p = clip(tau + beta * (H - H0), 0, 1)        (tau 0.5, beta 0.2)

where H0 is the entropy of that rollout's first action (a branch inherits its parent's H0). H is
`meta["entropy_norm"]` of the action (`agents/hf.py`: the mean entropy of its first 20 tokens over
log|V|); H0 is taken afresh in every iteration, never carried over (ARPO's code keeps it per rollout
slot across training steps, so its baselines go stale). A decision adds at most `beam_size - 1`
branches. A branch is a fork of the env (`EnvPool.fork`) taken *before* the uncertain action, so
the branch samples its own action from the same observation: the paper branches where the tokens
after a tool response are uncertain. (ARPO's released code decides on the segment before the
tool response, one segment late.) When a task has no rollout left in play and budget remains, a
fresh rollout starts from the reset (a top-up), so every group ends with exactly `group_size`.

Records (written per iteration under `record_dir`, when set, for `stepgym view`): every episode's `meta["rollout"]` is "initial", "top-up" or "branch"; a branch's
`meta["branch"]` is `{"parent": episode_id, "step": t}`: its steps before t are its parent's (the
viewer draws the tree). Advantages:

- `attribution="soft"` (default, ARPO's code): every rollout holds all its rows, shared prefix
  included, and any estimator applies (GRPO over all rollouts of a task; GiGPO's step groups then
  see a shared step once per rollout through it, each with that rollout's own return).
- `attribution="hard"` (the paper's alternative): a branch holds only its own rows; a shared row
  appears once and `estimator="arpo_hard"` (`trainers/tree_estimators.py`) gives it the mean GRPO
  advantage of the rollouts through it. The two are required together.

Logged per iteration (`batch.stats`): `branches`, `branches_skipped`, `top_ups`,
`branches_per_group`, the mean `branch_probability` at branch points, `agent_steps` (steps the
policy actually took: a shared prefix counts once, although a soft batch trains it once per
rollout through it; the trainer's `env_steps` and `env_step_budget` count these), `time_fork` (seconds spent forking) and
`fork_failures` (forks that failed for the infrastructure, e.g. a browser that timed out during a
replay: that branch is not taken and top-ups fill the budget; a `ForkMismatch`, an env that is
not deterministic, stops the run instead).

Tool responses are observations, so they sit in the next prompt and never among the trained
(generated) tokens. Branches need free envs: `num_envs` of at least `tasks_per_iteration x
group_size` lets every branch happen; with fewer, a branch with no free env is skipped (logged as
`branches_skipped`) and top-ups fill the budget instead.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from stepgym.agents.base import AgentAction, AgentInput
from stepgym.envs.fork import ForkMismatch
from stepgym.episodes.recorder import make_step
from stepgym.records import Episode, Step
from stepgym.runner import finish_episode
from stepgym.trainers.rollout import (
    EpisodeRollout,
    GroupSpec,
    RolloutBatch,
    RolloutGroup,
    StepRow,
    step_row,
)
from stepgym.trainers.seeding import derive_seed
from stepgym.trainers.strategy import ROLLOUTS, RolloutContext, RolloutStrategy

if TYPE_CHECKING:
    from stepgym.trainers.config import TrainConfig

BRANCH_AT = ("tool_response", "any_step")
ATTRIBUTION = ("soft", "hard")
HARD_ESTIMATOR = "arpo_hard"


def branch_probability(entropy: float, initial_entropy: float, tau: float = 0.5, beta: float = 0.2) -> float:
    """ARPO's chance of branching: clip(tau + beta * (H - H0), 0, 1).

    >>> branch_probability(0.9, 0.4)   # 0.5 + 0.2 * 0.5
    0.6
    >>> branch_probability(0.0, 5.0), branch_probability(9.0, 0.0)
    (0.0, 1.0)
    """
    return float(min(1.0, max(0.0, tau + beta * (entropy - initial_entropy))))


def branch_of(episode: Episode) -> tuple[str | None, int]:
    """(parent episode id, branch step) of a rollout; (None, 0) for one started from a reset."""
    info = episode.meta.get("branch") or {}
    return info.get("parent"), int(info.get("step", 0))


@dataclass
class _Rollout:
    """One rollout in play (or finished): its record, rows and where it is."""

    order: int  # creation order within its group
    group: int
    kind: str  # "initial", "top-up" or "branch"
    episode: Episode
    obs: dict[str, Any]
    info: dict[str, Any]
    rows: list[StepRow] = field(default_factory=list)
    history_images: list[Any] = field(default_factory=list)
    h0: float | None = None
    parent: _Rollout | None = None
    branch_step: int = 0
    slot: int | None = None


@ROLLOUTS.register("branching")
class BranchingRollouts(RolloutStrategy):
    """ARPO's adaptive branching: extra rollouts forked where the policy is uncertain (module docstring)."""

    def __init__(self, config: TrainConfig, *, initial_rollouts: int = 8, beam_size: int = 2, tau: float = 0.5,
                 beta: float = 0.2, branch_at: str = "tool_response", attribution: str = "soft",
                 entropy_key: str = "entropy_norm", record_dir: str | None = None) -> None:
        super().__init__(config)
        n = config.group_size
        if not isinstance(initial_rollouts, int) or not 1 <= initial_rollouts <= n:
            raise ValueError(f"initial_rollouts must be an int in [1, group_size={n}], got {initial_rollouts!r}")
        if not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive int (2: one branch per decision), got {beam_size!r}")
        for name, value in (("tau", tau), ("beta", beta)):
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if branch_at not in BRANCH_AT:
            raise ValueError(f"branch_at must be one of {BRANCH_AT}, got {branch_at!r}")
        if attribution not in ATTRIBUTION:
            raise ValueError(f"attribution must be one of {ATTRIBUTION}, got {attribution!r}")
        if (attribution == "hard") != (config.estimator == HARD_ESTIMATOR):
            raise ValueError(f"attribution='hard' and estimator={HARD_ESTIMATOR!r} go together (got attribution="
                             f"{attribution!r}, estimator={config.estimator!r}): hard attribution keeps a shared row "
                             f"once, which only {HARD_ESTIMATOR!r} scores right")
        self.initial_rollouts, self.beam_size = initial_rollouts, beam_size
        self.tau, self.beta = float(tau), float(beta)
        self.branch_at, self.attribution, self.entropy_key = branch_at, attribution, entropy_key
        self.record_dir = record_dir

    # -- the loop ---------------------------------------------------------------------------------
    def collect(self, ctx: RolloutContext, specs: Sequence[GroupSpec]) -> RolloutBatch:
        pool, n = ctx.pool, self.config.group_size
        policy = ctx.sampler()
        policy.bind(pool)
        meta = policy.metadata()
        seed = ctx.settings.seed
        draws = np.random.default_rng(None if seed is None else derive_seed(seed, "branch-draws"))
        started = [self.initial_rollouts] * len(specs)  # rollouts counted against each task's budget
        queue = deque((g, "initial") for g in range(len(specs)) for _ in range(self.initial_rollouts))
        free = list(range(len(pool)))
        active: dict[int, _Rollout] = {}
        finished: list[list[_Rollout]] = [[] for _ in specs]
        made = [0] * len(specs)
        stats = {"branches": 0, "branches_skipped": 0, "top_ups": 0, "agent_steps": 0, "fork_failures": 0}
        fork_seconds = 0.0
        probabilities: list[float] = []

        def start_queued() -> None:
            starts = []
            while free and queue:
                starts.append((free.pop(0), *queue.popleft()))
            if not starts:
                return
            resets = pool.reset([s for s, _, _ in starts], seeds=[specs[g].seed for _, g, _ in starts],
                                options=[{"task_id": specs[g].task_id} if specs[g].task_id else None for _, g, _ in starts])
            for (slot, g, kind), (obs, info) in zip(starts, resets):
                ep = Episode(env_id=pool.env_id or "custom", task_id=str(info.get("task_id", "")), seed=specs[g].seed,
                             instruction=str(info.get("instruction", "")),
                             meta={"policy": meta, "action_doc": str(info.get("action_doc", "")), "rollout": kind})
                active[slot] = _Rollout(made[g], g, kind, ep, obs, dict(info), slot=slot)
                made[g] += 1

        while queue or active:
            start_queued()
            slots = sorted(active)
            actions = policy.act([self._input(active[s]) for s in slots])
            if len(actions) != len(slots):
                raise RuntimeError(f"policy {policy.name!r} returned {len(actions)} actions for {len(slots)} inputs")
            branches: list[_Rollout] = []
            for s, act in zip(slots, actions):  # decide before stepping: a branch starts from this observation
                r = active[s]
                entropy = self._entropy(act, policy.name)
                r.h0 = entropy if r.h0 is None else r.h0
                if not self._at_branch_point(r):
                    continue
                p = branch_probability(entropy, r.h0, self.tau, self.beta)
                for _ in range(self.beam_size - 1):
                    if started[r.group] >= n:
                        break
                    probabilities.append(p)
                    if draws.random() >= p:
                        continue
                    if not free:
                        stats["branches_skipped"] += 1
                        continue
                    dst = free.pop(0)
                    t0 = time.perf_counter()
                    try:
                        pool.fork(s, [dst])
                    except ForkMismatch:
                        raise  # the env is not deterministic: never train on a wrong state
                    except Exception:  # noqa: BLE001 - a browser that failed mid-replay: no branch
                        fork_seconds += time.perf_counter() - t0
                        free.append(dst)  # its next reset recovers it
                        stats["fork_failures"] += 1
                        continue
                    fork_seconds += time.perf_counter() - t0
                    branches.append(self._branch(r, dst, made[r.group]))
                    made[r.group] += 1
                    started[r.group] += 1
                    stats["branches"] += 1
            results = pool.step({s: a.text for s, a in zip(slots, actions)})
            stats["agent_steps"] += len(slots)
            for s, act in zip(slots, actions):
                r = active[s]
                self._record(r, act, results[s])
                if results[s].done:
                    del active[s]
                    free.append(s)
                    finished[r.group].append(r)
            for b in branches:
                active[b.slot] = b
            free.sort()
            for g in range(len(specs)):  # a task with nothing in play and budget left: a fresh rollout
                if started[g] < n and not any(r.group == g for r in active.values()) \
                        and not any(q == g for q, _ in queue):
                    queue.append((g, "top-up"))
                    started[g] += 1
                    stats["top_ups"] += 1
        groups = tuple(RolloutGroup(spec, self._episodes(sorted(finished[g], key=lambda r: r.order)))
                       for g, spec in enumerate(specs))
        if self.record_dir is not None:
            self._write(ctx.iteration, groups)
        batch_stats = {**stats, "branches_per_group": stats["branches"] / max(len(specs), 1),
                       "branch_probability": float(np.mean(probabilities)) if probabilities else 0.0,
                       "time_fork": fork_seconds}
        return RolloutBatch(groups, batch_stats)

    # -- pieces -----------------------------------------------------------------------------------
    def _write(self, iteration: int, groups: Sequence[RolloutGroup]) -> None:
        """The iteration's rollouts (text, no images) under record_dir/iteration_NNNN, for `stepgym view`."""
        import shutil
        from pathlib import Path

        from stepgym.episodes.io import EpisodeWriter

        out = Path(self.record_dir) / f"iteration_{iteration:04d}"
        shutil.rmtree(out, ignore_errors=True)  # a retried iteration replaces what it wrote before
        with EpisodeWriter(out) as writer:
            for g in groups:
                for e in g.episodes:
                    writer.write(e.episode)

    def _input(self, r: _Rollout) -> AgentInput:
        return AgentInput(env_index=r.slot, observation=r.obs, info=r.info, instruction=r.episode.instruction,
                          action_doc=str(r.info.get("action_doc", "")), history=list(r.episode.steps),
                          history_images=list(r.history_images))

    def _entropy(self, act: AgentAction, name: str) -> float:
        value = act.meta.get(self.entropy_key)
        if not isinstance(value, (int, float)):
            raise RuntimeError(f"policy {name!r} gave no meta[{self.entropy_key!r}] with its action; branching "
                               "needs each action's entropy (the HF backend reports it; over HTTP set "
                               "HTTPSettings(top_logprobs=10, vocab_size=...))")
        return float(value)

    def _at_branch_point(self, r: _Rollout) -> bool:
        """Whether the rollout's next action follows an env step (any_step) or a tool response."""
        if not r.episode.steps:
            return False
        if self.branch_at == "any_step":
            return True
        last = r.episode.steps[-1]
        return bool(last.action_valid and isinstance(last.parsed_action, dict) and last.parsed_action.get("tool_calls"))

    def _branch(self, r: _Rollout, slot: int, order: int) -> _Rollout:
        t = len(r.episode.steps)
        ep = Episode(env_id=r.episode.env_id, task_id=r.episode.task_id, seed=r.episode.seed,
                     instruction=r.episode.instruction, steps=list(r.episode.steps),
                     total_reward=r.episode.total_reward,
                     meta={**r.episode.meta, "rollout": "branch", "branch": {"parent": r.episode.episode_id, "step": t}})
        return _Rollout(order, r.group, "branch", ep, r.obs, dict(r.info),
                        rows=list(r.rows) if self.attribution == "soft" else [],
                        history_images=list(r.history_images), h0=r.h0, parent=r, branch_step=t, slot=slot)

    def _record(self, r: _Rollout, act: AgentAction, res) -> None:
        if act.token_ids is None or act.logprobs is None or act.prompt_inputs is None:
            raise RuntimeError("branching needs prompt inputs, token ids and log-probs with each action (an HFPolicy)")
        ep = r.episode
        step_meta = dict(act.meta, token_ids=list(act.token_ids), logprobs=[float(x) for x in act.logprobs])
        step: Step = make_step(len(ep.steps), r.obs, r.info, act.text, res.reward, res.terminated, res.truncated,
                               res.info, step_meta)
        ep.steps.append(step)
        ep.total_reward += res.reward
        r.history_images.append(r.obs.get("image"))
        r.rows.append(step_row(act, step, self.config.invalid_action_penalty))
        r.info = {**r.info, **res.info}
        r.obs = res.obs
        if res.done:
            finish_episode(ep, res.info)

    def _episodes(self, rollouts: list[_Rollout]) -> tuple[EpisodeRollout, ...]:
        """EpisodeRollouts in creation order (parents before their branches), penalties applied."""
        out: dict[int, EpisodeRollout] = {}
        for r in rollouts:
            rows = _penalise_no_effect(r, self.config.no_effect_penalty)
            prefix = 0.0
            if self.attribution == "hard" and r.parent is not None:
                parent = out[id(r.parent)]
                prefix = parent.prefix_return + sum(x.reward for x in parent.rows if x.step_index < r.branch_step)
            out[id(r)] = EpisodeRollout(r.episode, rows, prefix_return=prefix)
        return tuple(out[id(r)] for r in rollouts)


def _penalise_no_effect(r: _Rollout, penalty: float) -> tuple[StepRow, ...]:
    """The no-effect penalty of `play_groups` on a rollout's own rows (whose next state is known)."""
    rows = r.rows
    if not penalty:
        return tuple(rows)
    keys = [s.state_key for s in r.episode.steps]
    out = []
    for row in rows:
        nxt = row.step_index + 1
        stuck = nxt < len(keys) and row.action_valid and row.state_key == keys[nxt]
        out.append(replace(row, reward=row.reward - penalty) if stuck else row)
    return tuple(out)
