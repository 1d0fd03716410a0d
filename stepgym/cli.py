"""The `stepgym` command line: envs, play, eval, view, demo."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stepgym.console import console


def _import_user_modules(modules: Sequence[str]) -> None:
    if modules and "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # so `--import mymodule` finds the user's files
    for m in modules or ():
        importlib.import_module(m)


def cmd_envs(args: argparse.Namespace) -> int:
    import stepgym

    _import_user_modules(args.import_)
    table = Table(title="stepgym environments")
    table.add_column("id", style="bold cyan")
    table.add_column("description")
    for env_id in stepgym.list_envs():
        table.add_row(env_id, stepgym.describe(env_id))
    console.print(table)
    return 0


def summary_table(title: str, rows: dict[str, object]) -> Table:
    """A table of named `Summary`s, one row each."""
    table = Table(title=title)
    for col in ("run", "episodes", "success", "95% CI", "mean return", "mean steps", "invalid actions"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for name, s in rows.items():
        table.add_row(name, str(s.episodes), f"{s.success_rate:.1%}",
                      f"[{s.success_ci[0]:.2f}, {s.success_ci[1]:.2f}]", f"{s.mean_return:.3f}",
                      f"{s.mean_steps:.1f}", f"{s.invalid_action_rate:.1%}")
    return table


def run_policy(env_id: str, policy_spec: str, episodes: int, seed: int, *, num_envs: int = 4,
               backend: str = "sync", record: str | None = None, split: str | None = None,
               env_kwargs: dict | None = None, imports: Sequence[str] = (), quiet: bool = False):
    """Play `episodes` episodes of `policy_spec` on `env_id` through an EnvPool; returns them."""
    from stepgym.agents import make_policy
    from stepgym.envs.pool import EnvPool
    from stepgym.episodes.io import EpisodeWriter
    from stepgym.runner import EpisodeJob, collect_episodes

    kwargs = dict(env_kwargs or {})
    if split:
        kwargs["split"] = split
    policy = make_policy(policy_spec, seed=seed)
    jobs = [EpisodeJob(seed=seed + i) for i in range(episodes)]
    writer = EpisodeWriter(record) if record else None
    pool = EnvPool(env_id, num_envs=min(num_envs, episodes), env_kwargs=kwargs, backend=backend,
                   imports=imports)
    try:
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, disable=quiet, transient=True) as progress:
            bar = progress.add_task(f"{policy.name} on {env_id}", total=episodes)
            eps = collect_episodes(pool, policy, jobs, env_id=env_id, writer=writer,
                                   on_episode=lambda _e: progress.advance(bar))
    finally:
        pool.close()
        if writer:
            writer.close()
    return eps


def _env_kwargs(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"--env-kwargs must be a JSON object, got {text!r}: {exc}") from exc
    if not isinstance(value, dict):
        raise SystemExit(f"--env-kwargs must be a JSON object, got {text!r}")
    return value


def cmd_play(args: argparse.Namespace, per_task_table: bool = False) -> int:
    from stepgym.episodes.evaluate import per_task, summarize

    _import_user_modules(args.import_)
    t0 = time.perf_counter()
    eps = run_policy(args.env, args.policy, args.episodes, args.seed, num_envs=args.num_envs,
                     backend=args.backend, record=args.record, split=args.split,
                     env_kwargs=_env_kwargs(args.env_kwargs), imports=args.import_)
    s = summarize(eps)
    console.print(summary_table(f"{args.env} ({time.perf_counter() - t0:.1f}s)", {args.policy: s}))
    if per_task_table:
        table = Table(title="per task")
        for col in ("task", "episodes", "success", "mean return", "mean steps"):
            table.add_column(col)
        for task_id, ts in per_task(eps).items():
            table.add_row(task_id, str(ts.episodes), f"{ts.success_rate:.0%}",
                          f"{ts.mean_return:.3f}", f"{ts.mean_steps:.1f}")
        console.print(table)
    if args.record:
        console.print(f"recorded {len(eps)} episodes to [bold]{args.record}[/]")
    if args.json:
        print(json.dumps(s.as_dict()))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    return cmd_play(args, per_task_table=True)


def cmd_view(args: argparse.Namespace) -> int:
    from stepgym.episodes.viewer import write_report

    out = write_report(args.dir, args.out, compare=args.compare)
    console.print(f"wrote [bold]{out}[/]")
    return 0


def cmd_eval_offline(args: argparse.Namespace) -> int:
    from stepgym.episodes.offline.command import run

    return run(args, console)


def cmd_serve(args: argparse.Namespace) -> int:
    from stepgym.agents.serve import cmd_serve as serve

    return serve(args)


def cmd_serve_env(args: argparse.Namespace) -> int:
    _import_user_modules(args.import_)
    try:
        from stepgym.integrations.openenv import serve
    except ImportError as exc:
        raise SystemExit(f"serve-env needs OpenEnv: pip install 'stepgym[openenv]' ({exc})") from exc
    console.print(f"serving {args.env} as an OpenEnv environment on ws://{args.host}:{args.port}/ws")
    serve(args.env, host=args.host, port=args.port, env_kwargs=_env_kwargs(args.env_kwargs),
          max_sessions=args.max_sessions)
    return 0


def _overrides(pairs: Sequence[str]) -> dict:
    """`key=value` pairs (values parsed as JSON when they parse, else kept as text)."""
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--set expects key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _quiet_transformers() -> None:
    """Hide transformers' own tqdm bars (a checkpoint per iteration prints 'Writing model shards'),
    which would break up the trainer's progress bar."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def cmd_train(args: argparse.Namespace) -> int:
    from stepgym.trainers.config import PRESETS, TrainConfig, preset
    from stepgym.trainers.trainer import Trainer

    _quiet_transformers()
    if args.resume:
        if args.config is not None:
            raise SystemExit(f"--resume continues {args.resume} with its own config.json; drop {args.config!r}")
        trainer = Trainer.resume(args.resume, overrides=_overrides(args.set), console=console)
    else:
        if args.config is None:
            raise SystemExit(f"give a config file or a preset ({', '.join(sorted(PRESETS))}), or --resume RUN_DIR")
        overrides = _overrides(args.set)
        if args.run_dir:
            overrides["run_dir"] = args.run_dir
        if Path(args.config).exists():
            cfg = TrainConfig.from_dict({**TrainConfig.load(args.config).to_dict(), **overrides})
        else:
            cfg = preset(args.config, **overrides)
        trainer = Trainer(cfg, console=console)
    try:
        results = trainer.run()
    finally:
        trainer.close()
    table = Table(title=f"held-out success ({trainer.cfg.env_id}, {trainer.cfg.eval_split} split)")
    table.add_column("stage")
    table.add_column("success", justify="right")
    for stage, value in results.items():
        if value is not None:
            table.add_row(stage.replace("_", " "), f"{value:.1%}")
    console.print(table)
    console.print(f"run directory: [bold]{trainer.run_dir}[/] (metrics.jsonl, learning_curve.png, eval/, checkpoint/)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stepgym.demo import run_demo

    _quiet_transformers()
    overrides = _overrides(args.set)
    return run_demo(Path(args.out), seed=args.seed, **overrides)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stepgym", description="Environments, agents and RL trainers for LLM agents.")
    sub = p.add_subparsers(dest="command", required=True)

    e = sub.add_parser("envs", help="list registered environments")
    e.add_argument("--import", dest="import_", action="append", default=[],
                   help="import this module first (registers your own envs); repeatable")
    e.set_defaults(func=cmd_envs)

    for name, func, helptext in (("play", cmd_play, "run a policy and print a summary"),
                                 ("eval", cmd_eval, "evaluate a policy: success with a 95% interval, per task")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("env", help="environment id, e.g. stepgym/Sokoban-v0 (or module:Name-v0)")
        q.add_argument("--policy", default="oracle",
                       help="oracle | random | hf:DIR | openai:URL[#MODEL] | vllm:DIR (model specs take "
                            "?temperature=0&max_new_tokens=32&history_mode=conversation ...)")
        q.add_argument("--episodes", type=int, default=10)
        q.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
        q.add_argument("--num-envs", type=int, default=4, help="envs stepped as one batch")
        q.add_argument("--backend", choices=["sync", "process", "ray"], default="sync",
                       help="run envs in this process, one worker process each, or one Ray actor each")
        q.add_argument("--split", default=None, help="task split to draw from (train/val/test/all)")
        q.add_argument("--env-kwargs", default=None, help="JSON object of env constructor arguments")
        q.add_argument("--record", default=None, metavar="DIR", help="record episodes to DIR")
        q.add_argument("--import", dest="import_", action="append", default=[],
                       help="import this module first (registers your own envs); repeatable")
        q.add_argument("--json", action="store_true", help="also print the summary as JSON")
        q.set_defaults(func=func)

    v = sub.add_parser("view", help="HTML report of recorded episodes")
    v.add_argument("dir")
    v.add_argument("--out", default=None, help="output HTML file (default DIR/index.html)")
    v.add_argument("--compare", default=None, metavar="DIR2", help="show DIR2's episode of the same task and seed beside each")
    v.set_defaults(func=cmd_view)

    eo = sub.add_parser("eval-offline", help="step-wise scores on recorded episodes (AITW, AndroidControl, GUI-Odyssey, "
                                             "Mind2Web, stepgym recordings)")
    from stepgym.episodes.offline.command import add_arguments as eval_offline_arguments
    eval_offline_arguments(eo)
    eo.set_defaults(func=cmd_eval_offline)

    sv = sub.add_parser("serve", help="OpenAI-compatible chat-completions server over a local model")
    sv.add_argument("model_dir", help="a transformers model directory (loaded offline)")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--name", default=None, help="model id clients send (default: the directory's name)")
    sv.add_argument("--min-pixels", type=int, default=None, help="smallest image area after resizing")
    sv.add_argument("--max-pixels", type=int, default=None, help="largest image area after resizing")
    sv.add_argument("--device", default=None, help="cpu / cuda (default: cuda when available)")
    sv.set_defaults(func=cmd_serve)

    se = sub.add_parser("serve-env", help="serve an env as an OpenEnv environment (one env per /ws session)")
    se.add_argument("env", help="environment id, e.g. stepgym/Sokoban-v0")
    se.add_argument("--host", default="127.0.0.1")
    se.add_argument("--port", type=int, default=8000)
    se.add_argument("--max-sessions", type=int, default=64, help="concurrent sessions (one env each)")
    se.add_argument("--env-kwargs", default=None, help="JSON object of env constructor arguments")
    se.add_argument("--import", dest="import_", action="append", default=[],
                    help="import this module first (registers your own envs); repeatable")
    se.set_defaults(func=cmd_serve_env)

    t = sub.add_parser("tspo-train", help="train a TSPO temporal frame selector; prints needle recall before/after")
    from stepgym.trainers.tspo_cli import add_arguments as tspo_arguments
    from stepgym.trainers.tspo_cli import cmd_tspo_train
    tspo_arguments(t)
    t.set_defaults(func=lambda a: cmd_tspo_train(a, print_fn=console.print))

    tr = sub.add_parser("train", help="train with a config file or a named preset")
    tr.add_argument("config", nargs="?", default=None, help="a JSON/YAML TrainConfig file or a preset name")
    tr.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run from its checkpoint; --set iterations=N (or env_step_budget, "
                    "eval_every, checkpoint_every) runs it on further")
    tr.add_argument("--run-dir", default=None, help="where the run writes (default: the config's run_dir)")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config field, e.g. --set iterations=5; repeatable")
    tr.set_defaults(func=cmd_train)

    d = sub.add_parser("demo", help="the built-in end-to-end run (what `make demo` runs)")
    d.add_argument("--out", default="runs/demo")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the demo's TrainConfig, e.g. --set iterations=2")
    d.set_defaults(func=cmd_demo)

    w = sub.add_parser("webshop-site", help="serve the WebShop site on 127.0.0.1 and open it in a browser")
    w.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    w.add_argument("--task", default=None, help="task id whose goal the site shows (default: the first test goal)")
    w.add_argument("--data", default=None, help="WebShop data folder (default: the shipped catalog)")
    w.add_argument("--no-browser", action="store_true", help="only print the address")
    w.set_defaults(func=lambda a: __import__("stepgym.envs.webshop.site", fromlist=["serve_site"]).serve_site(
        port=a.port, data=a.data, task=a.task, open_browser=not a.no_browser))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("play", "eval") and args.episodes < 1:
        raise SystemExit(f"--episodes must be >= 1, got {args.episodes}")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
