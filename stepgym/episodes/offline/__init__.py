"""Offline, step-wise evaluation on recorded GUI episodes: AITW, AndroidControl, GUI-Odyssey, Mind2Web
and stepgym's own Mobile-v0 / Desktop-v0 recordings.

    from stepgym.episodes.offline import get_card, load, score_predictions_file
    card = get_card("androidcontrol", "osatlas")
    report = score_predictions_file(card, card.make_params(), load("androidcontrol", "data/ac", split="test"),
                                    "preds.jsonl", split="test")
    report["metrics"]["step_accuracy"]

Protocol cards (`cards.py`, rendered in docs/offline-protocols.md) say how every number is
computed; loaders read each release as published (TFRecord without tensorflow, JSON); the
scorer joins predictions in each benchmark's own vocabulary; `predict.run_policy` asks any
stepgym policy step by step on the recorded screens. Matching rules live in
`stepgym.rewards.offline` (pure functions, also used by the OfflineSteps-v0 env).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepgym.episodes.offline.cards import BENCHMARKS, ProtocolCard, all_cards, get_card
from stepgym.episodes.offline.dataset import OfflineEpisode
from stepgym.episodes.offline.scoring import Prediction, build_report, score_predictions_file

#: options each loader takes besides split and limit (passed with `--set name=value`)
LOADER_OPTIONS: dict[str, tuple[str, ...]] = {
    "aitw": ("split_file", "subsets"), "androidcontrol": ("step_list",), "gui_odyssey": (),
    "mind2web": (), "stepgym": ("successful_only",),
}


def load(benchmark: str, data_dir: str | Path, split: str | None = None, limit: int | None = None,
         **options: Any) -> Iterator[OfflineEpisode]:
    """Stream a benchmark's recorded episodes from `data_dir` as released (see each card's data layout)."""
    unknown = set(options) - set(LOADER_OPTIONS.get(benchmark, ()))
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for the {benchmark} loader; it takes "
                         f"{list(LOADER_OPTIONS.get(benchmark, ())) or 'none'}")
    if benchmark == "aitw":
        from stepgym.episodes.offline.loaders.aitw import load_aitw

        subsets = options.get("subsets")
        if isinstance(subsets, str):
            subsets = [s for s in subsets.split(",") if s]
        return load_aitw(data_dir, split=split, split_file=options.get("split_file"), subsets=subsets, limit=limit)
    if benchmark == "androidcontrol":
        from stepgym.episodes.offline.loaders.androidcontrol import load_androidcontrol

        return load_androidcontrol(data_dir, split=split, step_list=options.get("step_list"), limit=limit)
    if benchmark == "gui_odyssey":
        from stepgym.episodes.offline.loaders.gui_odyssey import load_gui_odyssey

        return load_gui_odyssey(data_dir, split=split, limit=limit)
    if benchmark == "mind2web":
        from stepgym.episodes.offline.loaders.mind2web import load_mind2web

        return load_mind2web(data_dir, split=split or "test_task", limit=limit)
    if benchmark == "stepgym":
        from stepgym.episodes.offline.loaders.recordings import load_recordings

        keep = options.get("successful_only", True)
        if isinstance(keep, str):
            keep = keep.lower() not in ("0", "false", "no")
        return load_recordings(data_dir, successful_only=bool(keep), split=split, limit=limit)
    raise ValueError(f"unknown benchmark {benchmark!r}; expected one of {', '.join(BENCHMARKS)}")


__all__ = ["BENCHMARKS", "LOADER_OPTIONS", "OfflineEpisode", "Prediction", "ProtocolCard", "all_cards",
           "build_report", "get_card", "load", "score_predictions_file"]
