"""`stepgym tspo-train` arguments, kept apart from tspo.py so that building the CLI parser never imports torch."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `stepgym tspo-train` options."""
    p.add_argument("--data", default=None, help="VideoQA task file with evidence spans (default: generate needle videos)")
    p.add_argument("--videos", type=int, default=48, help="generated needle videos (without --data)")
    p.add_argument("--eval-fraction", type=float, default=0.33, help="share of videos held out for recall")
    p.add_argument("--duration", type=float, default=24.0, help="seconds per generated video")
    p.add_argument("--candidates", type=int, default=64, help="candidate frames per video")
    p.add_argument("--k", type=int, default=4, help="frames the agent selects")
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/tspo", help="folder for generated videos, weights and metrics")


def cmd_tspo_train(args: argparse.Namespace, print_fn=print) -> int:
    """Run `stepgym tspo-train` (imports torch only now)."""
    from stepgym.trainers.tspo import run_cli

    run_cli(args, print_fn=print_fn)
    return 0
