"""`stepgym tspo-train`: build TSPO samples, train the temporal agent, report recall and accuracy vs uniform.

    stepgym tspo-train --videos 48 --out runs/tspo                       # fast: thumbnails + oracle
    stepgym tspo-train --features vlm --answerer vlm --out runs/tspo-vlm  # real: a VLM's towers + answers
    python -m stepgym.trainers.tspo_cli ...                              # the same, without the CLI

Building the parser imports nothing heavy; torch and the models load when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `stepgym tspo-train` options."""
    p.add_argument("--data", default=None, help="VideoQA task file, or a benchmark spec as JSON "
                   "('{\"format\": \"videomme\", ...}'); default: generate needle videos")
    p.add_argument("--videos", type=int, default=48, help="generated needle videos (without --data)")
    p.add_argument("--eval-fraction", type=float, default=0.33, help="share of videos held out for evaluation")
    p.add_argument("--duration", type=float, default=24.0, help="seconds per generated video")
    p.add_argument("--candidates", type=int, default=64, help="candidate frames per video")
    p.add_argument("--k", type=int, default=4, help="frames the agent selects")
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--group-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", choices=("thumbnail", "vlm"), default="thumbnail",
                   help="frame/question features: random projection of thumbnails, or the VLM's own towers")
    p.add_argument("--answerer", choices=("oracle", "vlm"), default="oracle",
                   help="oracle: right when a chosen frame is in the evidence; vlm: the frozen VLM answers")
    p.add_argument("--model", default=None, help="local VLM directory for --features/--answerer vlm "
                   "(default: a tiny random-weight Qwen2.5-VL built under OUT/tiny-vlm)")
    p.add_argument("--frame-tokens", type=int, default=16, help="vision tokens per frame for --features vlm")
    p.add_argument("--dtype", default=None, help="model dtype for --model (e.g. bfloat16; default float32)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads for this run "
                   "(default: torch's own choice; 1 is fastest for the tiny agent on a busy CPU)")
    p.add_argument("--out", default="runs/tspo", help="folder for generated videos, weights and metrics")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _tasks(data: str) -> list[Any]:
    from stepgym.envs.video.env import load_video_tasks

    spec = json.loads(data) if data.lstrip().startswith("{") else data
    return list(load_video_tasks(spec))


def run_cli(args: argparse.Namespace, print_fn: Callable[[str], None] = print) -> Any:
    """Build samples, train, print recall and accuracy before/after vs uniform; writes agent.pt and metrics.json."""
    from stepgym.trainers.tspo import TSPOConfig, TSPOTrainer
    from stepgym.trainers.tspo_samples import (
        needle_samples,
        oracle_answerer,
        policy_answerer,
        samples_from_tasks,
    )

    out = Path(args.out)
    vlm = args.features == "vlm" or args.answerer == "vlm"
    model_dir = args.model
    if vlm and model_dir is None:
        from stepgym.agents.tiny import build_tiny_vlm

        model_dir = str(out / "tiny-vlm")
        if not (Path(model_dir) / "config.json").is_file():
            build_tiny_vlm(model_dir, size="tiny", seed=args.seed)
    kwargs: dict[str, Any] = {"keep_frames": args.answerer == "vlm"}
    answerer = oracle_answerer
    if vlm:
        from stepgym.agents.hf import GenerationSettings, HFPolicy

        # one model serves as both: features from its towers, answers from its decoder
        policy = HFPolicy(model_dir, config=GenerationSettings(temperature=0.0, max_new_tokens=8, seed=args.seed),
                          dtype=args.dtype)
        if args.features == "vlm":
            from stepgym.agents.vision_features import VLMEmbedder

            kwargs["encoder"] = VLMEmbedder(policy.model, policy.processor, tokens_per_frame=args.frame_tokens)
        if args.answerer == "vlm":
            answerer = policy_answerer(policy)
    if args.data:
        samples = samples_from_tasks(_tasks(args.data), args.candidates, **kwargs)
    else:
        samples = needle_samples(out / "videos", args.videos, args.seed, args.candidates, args.duration, **kwargs)
    n_eval = max(1, int(round(len(samples) * args.eval_fraction)))
    if len(samples) - n_eval < 1:
        raise SystemExit(f"need at least 2 videos to train and evaluate, got {len(samples)}")
    config = TSPOConfig(k=args.k, iterations=args.iterations, group_size=args.group_size, lr=args.lr,
                        seed=args.seed)
    trainer = TSPOTrainer(config, answerer)

    def log(s: dict[str, float]) -> None:
        print_fn(f"iter {int(s['iteration']):4d}  tau {s['tau']:.4f}  reward {s['reward']:.3f}  "
                 f"accuracy {s['accuracy']:.3f}  loss {s['loss']:+.2e}")

    report = trainer.fit(samples[n_eval:], samples[:n_eval], log=log)
    trainer.save(out / "agent.pt")
    metrics = {k: v for k, v in report.as_dict().items() if k != "history"}
    metrics.update(features=args.features, answerer=args.answerer, model=model_dir)
    if hasattr(answerer, "stats"):
        metrics["answerer_replies"] = dict(answerer.stats)
    tmp = out / "metrics.json.part"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out / "metrics.json")
    acc = report.accuracy
    print_fn(f"needle recall@{args.k} on {n_eval} held-out videos: uniform {_fmt(report.uniform)} | "
             f"TSPO before {_fmt(report.before)} -> after {_fmt(report.after)} (greedy {_fmt(report.after_greedy)})")
    print_fn(f"answer accuracy ({args.answerer} answerer): uniform {acc['uniform']:.3f} | TSPO before "
             f"{acc['before']:.3f} -> after {acc['after']:.3f} (greedy {acc['after_greedy']:.3f})")
    print_fn(f"wrote {out / 'agent.pt'} and {out / 'metrics.json'}")
    return report


def cmd_tspo_train(args: argparse.Namespace, print_fn: Callable[[str], None] = print) -> int:
    """Run `stepgym tspo-train` (imports torch only now)."""
    if args.threads is not None:
        import torch

        # the command owns its process: the one place a thread count may be set
        torch.set_num_threads(args.threads)
    run_cli(args, print_fn=print_fn)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m stepgym.trainers.tspo_cli ...`."""
    p = argparse.ArgumentParser(prog="python -m stepgym.trainers.tspo_cli", description=__doc__.splitlines()[0])
    add_arguments(p)
    return cmd_tspo_train(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
