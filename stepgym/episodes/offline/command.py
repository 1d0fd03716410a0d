"""`stepgym eval-offline`: arguments and the run (kept here so stepgym/cli.py stays a dispatcher)."""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path
from typing import Any

from stepgym.episodes.offline.cards import BENCHMARKS, DEFAULT_PROTOCOL, PROTOCOLS, get_card


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `stepgym eval-offline` options."""
    protocols = sorted({p for ps in PROTOCOLS.values() for p in ps})
    p.add_argument("benchmark", choices=BENCHMARKS, help="which benchmark's files DATA_DIR holds")
    p.add_argument("data_dir", help="the benchmark as released (see its card), or an episode directory for 'stepgym'")
    p.add_argument("--protocol", default=None, choices=protocols,
                   help=f"scoring protocol (default: {', '.join(f'{b}={v}' for b, v in DEFAULT_PROTOCOL.items())}; "
                        "for stepgym recordings, the recorded env's)")
    p.add_argument("--split", default=None, help="split or subsplit to score (see the card)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--policy", default=None, help="oracle | random | hf:DIR | openai:URL[#MODEL] | vllm:DIR (with ?options)")
    src.add_argument("--predictions", default=None, metavar="FILE.jsonl", help="predictions in the benchmark's own vocabulary")
    p.add_argument("--out", default=None, help="report.json path (default runs/eval-offline/BENCH-PROTOCOL/report.json)")
    p.add_argument("--level", choices=["high", "low"], default="high", help="low: the policy also sees step instructions")
    p.add_argument("--history", choices=["recorded", "predicted"], default="recorded",
                   help="recorded: teacher forcing (default); predicted: the policy's own earlier answers")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="a card threshold (e.g. tap_distance_threshold=0.1) or loader option (split_file=..., step_list=...)")
    p.add_argument("--limit", type=int, default=None, help="score only the first N episodes")
    p.add_argument("--batch-size", type=int, default=8, help="steps per policy call")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--viewer-episodes", type=int, default=50, help="episodes the HTML viewer shows")
    p.add_argument("--compare", action="append", default=[], metavar="REPORT.json",
                   help="another run's report.json to show beside this one in the viewer; repeatable")
    p.add_argument("--json", action="store_true", help="also print the metrics as JSON")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_settings(pairs: list[str], card, loader_options: tuple[str, ...]) -> tuple[dict, dict]:
    params, options = {}, {}
    names = set(card.default_params())
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects NAME=VALUE, got {pair!r}")
        if key in names:
            params[key] = _value(value)
        elif key in loader_options:
            options[key] = value
        else:
            raise SystemExit(f"--set {key}: not a parameter of card {card.name} ({', '.join(sorted(names))}) "
                             f"nor a loader option ({', '.join(loader_options) or 'none'})")
    return params, options


def _atomic_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _print(console, report: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{report['card']} · {report['steps']} steps, {report['episodes']} episodes"
                        + (f" · split {report['split']}" if report.get("split") else ""))
    for col in ("metric", "value", "95% interval"):
        table.add_column(col, justify="left" if col == "metric" else "right")

    def add(prefix: str, metrics: dict, intervals: dict) -> None:
        for k, v in metrics.items():
            if isinstance(v, dict):
                add(f"{prefix}{k}.", v, intervals.get(k) or {})
            else:
                ci = intervals.get(k)
                table.add_row(prefix + k, "—" if v is None else f"{v:.3f}",
                              "—" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]")

    add("", report["metrics"], report["intervals"])
    console.print(table)
    types = Table(title="per ground-truth action type")
    for col in ("type", "steps", "type right", "step right"):
        types.add_column(col, justify="left" if col == "type" else "right")
    for row in report["per_action_type"]:
        types.add_row(row["gt_type"], str(row["steps"]), f"{row['type_accuracy']:.1%}", f"{row['accuracy']:.1%}")
    console.print(types)
    if report.get("missing_predictions"):
        console.print(f"[yellow]{report['missing_predictions']} steps had no prediction (scored wrong)[/]")


def run(args: argparse.Namespace, console) -> int:
    """Run `stepgym eval-offline`; returns the exit status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from stepgym.episodes.offline import LOADER_OPTIONS, load
    from stepgym.episodes.offline.predict import run_policy
    from stepgym.episodes.offline.protocols.base import PredictionError
    from stepgym.episodes.offline.scoring import score_predictions_file
    from stepgym.episodes.viewer import MediaCollector, write_offline_viewer

    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"--limit must be >= 1, got {args.limit}")
    if not Path(args.data_dir).exists():
        raise SystemExit(f"DATA_DIR {args.data_dir!r} does not exist")
    protocol = args.protocol
    options_names = LOADER_OPTIONS[args.benchmark]
    if args.benchmark == "stepgym" and protocol is None:
        protocol = "mobile"  # a first guess to parse --set; the recordings decide below
    card = get_card(args.benchmark, protocol)
    params_kw, options = _split_settings(args.set, card, options_names)
    try:
        episodes = load(args.benchmark, args.data_dir, split=args.split, limit=args.limit, **options)
        first = next(episodes, None)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        raise SystemExit(f"cannot load {args.benchmark} from {args.data_dir!r}: {exc}") from None
    if first is None:
        raise SystemExit(f"no episodes to score in {args.data_dir!r}" + (f" for split {args.split!r}" if args.split else ""))
    if args.benchmark == "stepgym" and args.protocol is None:
        card = get_card("stepgym", first.group)
    params = card.make_params(params_kw)
    episodes = itertools.chain([first], episodes)
    out = Path(args.out) if args.out else Path("runs") / "eval-offline" / card.name / "report.json"
    viewer_dir = out.parent / (out.stem + "_viewer" if args.out else "viewer")
    collector = MediaCollector(viewer_dir, max_episodes=args.viewer_episodes)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task(f"{card.name}", total=None)

        def on_episode(ep, rows):
            collector(ep, rows)
            if args.predictions:
                progress.advance(bar, len(rows))

        try:
            if args.predictions:
                report = score_predictions_file(card, params, episodes, args.predictions, split=args.split,
                                                on_episode=on_episode)
            else:
                report = run_policy(card, params, episodes, args.policy, history=args.history, level=args.level,
                                    batch_size=args.batch_size, seed=args.seed, split=args.split,
                                    on_episode=on_episode, on_steps=lambda n: progress.advance(bar, n))
        except PredictionError as exc:
            raise SystemExit(f"bad predictions file: {exc}") from None
    _atomic_json(out, report)
    runs = [(args.policy or Path(args.predictions).name, report)]
    for path in args.compare:
        other = json.loads(Path(path).read_text(encoding="utf-8"))
        if (other.get("benchmark"), other.get("protocol")) != (report["benchmark"], report["protocol"]):
            raise SystemExit(f"--compare {path}: it scores {other.get('benchmark')}/{other.get('protocol')}, "
                             f"this run {report['benchmark']}/{report['protocol']}")
        runs.append((str(other.get("source", {}).get("policy", {}).get("name") or Path(path).parent.name), other))
    page = write_offline_viewer(viewer_dir, collector.episodes, runs, title=f"{card.name}: {args.data_dir}")
    _print(console, report)
    console.print(f"report: [bold]{out}[/] · viewer: [bold]{page}[/]")
    if args.json:
        print(json.dumps({"metrics": report["metrics"], "steps": report["steps"]}))
    return 0
