"""Scoring recorded steps against predictions: joining a predictions file, one row per step, the report.

`score_predictions_file(card, params, episodes, path)` reads a predictions JSONL in the
benchmark's own vocabulary (one line per step, keyed as the card says), scores every recorded
step (a step without a prediction is wrong) and returns the report dict that `report.json`
holds: {"benchmark", "protocol", "split", "steps", "metrics", "per_step", ...}.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepgym.episodes.offline import metrics as M
from stepgym.episodes.offline.card import ProtocolCard
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.protocols.base import Native, PredictionError
from stepgym.episodes.schema import Step


@dataclass
class Prediction:
    """One step's prediction: the native action (None: unusable), and the policy's text if any."""

    native: Native | None
    text: str | None = None
    note: str = ""


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def score_step(card: ProtocolCard, params: Any, ep: OfflineEpisode, step: Step, pred: Prediction | None) -> dict[str, Any]:
    """The per_step row of one recorded step."""
    adapter = card.adapter
    gt = step.parsed_action
    m = adapter.match(pred.native if pred else None, ep, step, params)
    note = (pred.note if pred and pred.note else m.note) or ("" if pred else "no prediction")
    return {
        "episode_id": ep.episode.episode_id, "step": step.index, "step_id": step.step_id, "group": ep.group,
        "episode_steps": int(ep.episode.meta.get("step_length", len(ep.episode.steps))),
        "gt": _jsonable(gt), "pred": _jsonable(pred.native) if pred else None, "pred_text": pred.text if pred else None,
        "gt_type": m.gt_type, "pred_type": m.pred_type, "type_match": bool(m.type_match), "correct": bool(m.correct),
        "extras": {k: (bool(v) if isinstance(v, bool) else float(v)) for k, v in m.extras.items()}, "note": note,
        "gt_marks": adapter.marks(gt, ep, step), "pred_marks": adapter.marks(pred.native, ep, step) if pred else [],
    }


def read_predictions(path: str | Path, card: ProtocolCard) -> dict[tuple[str, str], tuple[int, dict]]:
    """{key: (line number, record)} of a predictions JSONL; a bad line raises naming its number."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file {str(path)!r} does not exist")
    out: dict[tuple[str, str], tuple[int, dict]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PredictionError(f"{path}:{n}: not JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise PredictionError(f"{path}:{n}: expected a JSON object, got {type(record).__name__}")
            try:
                key = card.adapter.prediction_key(record)
            except PredictionError as exc:
                raise PredictionError(f"{path}:{n}: {exc}") from None
            if key in out:
                raise PredictionError(f"{path}:{n}: a second prediction for {dict(zip(card.adapter.key_fields, key))} "
                                      f"(first on line {out[key][0]})")
            out[key] = (n, record)
    return out


def score_predictions_file(card: ProtocolCard, params: Any, episodes: Iterable[OfflineEpisode], path: str | Path,
                           split: str | None = None,
                           on_episode: Callable[[OfflineEpisode, list[dict]], None] | None = None) -> dict[str, Any]:
    """Score every recorded step against a predictions file; returns the report dict."""
    preds = read_predictions(path, card)
    used: set[tuple[str, str]] = set()
    rows: list[dict] = []
    for ep in episodes:
        ep_rows = []
        for step in ep.episode.steps:
            if not card.adapter.scored(ep, step):
                continue
            key = card.adapter.step_key(ep, step)
            pred = None
            if key in preds:
                used.add(key)
                n, record = preds[key]
                try:
                    pred = Prediction(card.adapter.prediction_native(record, ep, step))
                except PredictionError as exc:
                    raise PredictionError(f"{path}:{n}: {exc}") from None
                if pred.native is None:
                    pred.note = "the predicted action does not parse"
            ep_rows.append(score_step(card, params, ep, step, pred))
        rows += ep_rows
        if on_episode is not None:
            on_episode(ep, ep_rows)
    if preds and not used:
        some = next(iter(preds))
        raise PredictionError(f"none of the {len(preds)} predictions in {path} names a recorded step (e.g. "
                              f"{dict(zip(card.adapter.key_fields, some))}); check the split and the key fields "
                              f"{list(card.adapter.key_fields)}")
    return build_report(card, params, split, rows, source={"predictions": str(path)},
                        unmatched_predictions=len(preds) - len(used))


def build_report(card: ProtocolCard, params: Any, split: str | None, rows: list[dict], source: Mapping[str, Any],
                 **extra: Any) -> dict[str, Any]:
    """report.json's content for scored rows."""
    import dataclasses

    values, intervals = M.compute(card.adapter.metrics(params), rows)
    episodes = len({r["episode_id"] for r in rows})
    return {
        "benchmark": card.benchmark, "protocol": card.protocol, "split": split, "steps": len(rows),
        "metrics": M.nest(values), "per_step": rows,
        "episodes": episodes, "intervals": M.nest(intervals), "interval_method": M.INTERVAL_METHOD,
        "per_action_type": M.per_action_type(rows), "card": card.name,
        "params": _jsonable(dataclasses.asdict(params)), "missing_predictions": sum(r["note"] == "no prediction" for r in rows),
        "source": dict(source), **extra,
    }
