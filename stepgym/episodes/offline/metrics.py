"""Metric values and 95% intervals over scored steps, as `MetricSpec`s declare them.

A metric is a ratio of per-unit sums (units are steps or episodes), pooled ("micro") or averaged
over groups, episodes or gt action types. Intervals are a percentile bootstrap over episodes
(steps of one episode are not independent): each resample draws episodes with replacement and
recomputes the metric exactly as declared. Where every resample gives the same 0 or 1 (a perfect
or hopeless run), the bootstrap interval would have zero width; the Wilson interval over the
number of episodes is given instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stepgym.episodes.evaluate import wilson_interval
from stepgym.episodes.offline.protocols.base import MetricSpec, Row

BOOTSTRAP_RESAMPLES = 1000
INTERVAL_METHOD = (f"95% percentile bootstrap over episodes ({BOOTSTRAP_RESAMPLES} resamples, seed 0); "
                   "Wilson over episodes where all resamples agree on 0 or 1")


@dataclass
class _Units:
    """One metric's per-episode sums: num[e, g], den[e, g] over the units of episode e in group g."""

    num: np.ndarray  # [E, G]
    den: np.ndarray  # [E, G]


def _units(spec: MetricSpec, rows: Sequence[Row], episode_of: dict[str, int]) -> _Units:
    num, den, eps, keys = [], [], [], []
    if spec.over == "steps":
        for r in rows:
            num.append(spec.value(r) * spec.weight(r))
            den.append(spec.weight(r))
            eps.append(episode_of[r["episode_id"]])
            keys.append(r["gt_type"] if spec.average == "gt_type" else r["group"])
    elif spec.over == "episodes":
        by_ep: dict[str, list[Row]] = defaultdict(list)
        for r in rows:
            by_ep[r["episode_id"]].append(r)
        for eid, ep_rows in by_ep.items():
            w = spec.episode_weight(ep_rows)
            num.append(float(all(r["correct"] for r in ep_rows)) * w)
            den.append(w)
            eps.append(episode_of[eid])
            keys.append(ep_rows[0]["group"])
    else:
        raise ValueError(f"metric {spec.name}: over must be 'steps' or 'episodes', got {spec.over!r}")
    if spec.average in ("micro", "episode"):
        keys = [0] * len(keys)  # "episode" averages the per-episode ratios of column 0
    elif spec.average not in ("group", "gt_type"):
        raise ValueError(f"metric {spec.name}: unknown average {spec.average!r}")
    names = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    n_ep, n_g = len(episode_of), max(1, len(names))
    s_num, s_den = np.zeros((n_ep, n_g)), np.zeros((n_ep, n_g))
    g = [names[k] for k in keys]
    np.add.at(s_num, (eps, g), num)
    np.add.at(s_den, (eps, g), den)
    return _Units(s_num, s_den)


def _values(spec: MetricSpec, u: _Units, weights: np.ndarray) -> np.ndarray:
    """The metric under episode weights `weights` [B, E] (one row per resample) -> [B]."""
    nan = np.full(len(weights), np.nan)
    if spec.average == "episode":  # mean of per-episode ratios, an episode counting as often as drawn
        den = u.den[:, 0]
        valid = den > 0
        ratio = np.divide(u.num[:, 0], den, out=np.zeros_like(den), where=valid)
        total = weights[:, valid].sum(1)
        return np.divide(weights[:, valid] @ ratio[valid], total, out=nan, where=total > 0)
    num, den = weights @ u.num, weights @ u.den  # [B, G]
    ratio = np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)
    if spec.average == "micro":
        return ratio[:, 0]
    valid = ~np.isnan(ratio)
    count = valid.sum(1)
    return np.divide(np.where(valid, ratio, 0).sum(1), count, out=nan, where=count > 0)


def compute(specs: Sequence[MetricSpec], rows: Sequence[Row], seed: int = 0,
            resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[dict[str, float | None], dict[str, list[float] | None]]:
    """({metric: value}, {metric: [low, high]}); a metric with nothing to average is None."""
    episode_of = {eid: i for i, eid in enumerate(dict.fromkeys(r["episode_id"] for r in rows))}
    n_ep = len(episode_of)
    values: dict[str, float | None] = {}
    intervals: dict[str, list[float] | None] = {}
    units = {spec.name: _units(spec, rows, episode_of) for spec in specs} if rows else {}
    boots: dict[str, list[np.ndarray]] = defaultdict(list)
    rng = np.random.default_rng(seed)
    for start in range(0, resamples if rows else 0, 100):  # chunks bound the [B, E] weight matrix
        draws = rng.multinomial(n_ep, np.full(n_ep, 1 / n_ep), size=min(100, resamples - start)).astype(float)
        for spec in specs:
            boots[spec.name].append(_values(spec, units[spec.name], draws))
    for spec in specs:
        point = float(_values(spec, units[spec.name], np.ones((1, n_ep)))[0]) if rows else float("nan")
        if np.isnan(point):
            values[spec.name], intervals[spec.name] = None, None
            continue
        boot = np.concatenate(boots[spec.name])
        boot = boot[~np.isnan(boot)]
        lo, hi = (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))) if len(boot) else (point, point)
        if hi - lo < 1e-12 and point in (0.0, 1.0):
            lo, hi = wilson_interval(round(point * n_ep), n_ep)
        values[spec.name], intervals[spec.name] = point, [lo, hi]
    return values, intervals


def nest(flat: dict[str, object]) -> dict[str, object]:
    """{"a.b": x} -> {"a": {"b": x}} (metrics such as category_mean.ams)."""
    out: dict[str, object] = {}
    for key, value in flat.items():
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value  # type: ignore[index]
        else:
            out[key] = value
    return out


def per_action_type(rows: Sequence[Row]) -> list[dict[str, object]]:
    """One row per gt action type: steps, type accuracy, step accuracy."""
    by_type: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_type[r["gt_type"]].append(r)
    out = []
    for t, rs in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        out.append({"gt_type": t, "steps": len(rs), "type_accuracy": sum(r["type_match"] for r in rs) / len(rs),
                    "accuracy": sum(r["correct"] for r in rs) / len(rs)})
    return out
