"""What one RL update does to the policy: how far it moves the log-probs of the rows it trained on.

Rolls out one iteration of a preset from a starting model (e.g. a run's SFT checkpoint), computes
the advantages, makes the update, and prints how each row's first response token (the move, for
Sokoban) changed, split by the sign of its advantage, with the update's own statistics. If RL does
not learn, this tells whether the update is too small, aimed wrong, or drowned by noise.

    python scripts/update_probe.py runs/demo/checkpoint/model
    python scripts/update_probe.py MODEL --preset sokoban-gigpo-tiny --set lr=1e-3 --set seed=1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def sgd_check(trainer, rows, adv, steps=(1e-2, 1e-1)) -> None:
    """First-token log-prob changes after one SGD step on -mean(max(A, 0) * logp) over 256 rows."""
    import torch

    idx = np.arange(0, len(rows), max(len(rows) // 256, 1))[:256]
    sub, weight = [rows[i] for i in idx], torch.tensor(np.maximum(adv[idx], 0), dtype=torch.float32)

    def first(grad: bool):
        lps, _ = trainer.policy.sequence_logprobs([r.prompt for r in sub], [list(r.response_ids) for r in sub])
        out = torch.stack([lp[0] for lp in lps])
        return out if grad else out.detach()

    model, before = trainer.policy.model, first(False)
    for lr in steps:
        model.zero_grad()
        (-(weight * first(True)).mean()).backward()
        params = [p for p in model.parameters() if p.grad is not None]
        saved = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        d, w = (first(False) - before).numpy(), weight.numpy()
        print(f"SGD step {lr}: weighted log-likelihood change {float((w * d).sum()):+.4f}; reinforced rows that "
              f"gained {float((d[w > 0] > 0).mean()):.2f}, mean change {d[w > 0].mean():+.4f} (others {d[w == 0].mean():+.4f})")
        with torch.no_grad():
            for p, v in zip(params, saved):
                p.copy_(v)
    model.zero_grad(set_to_none=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="starting model directory (a run's checkpoint/model)")
    ap.add_argument("--preset", default="sokoban-gigpo-tiny")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (JSON value)")
    ap.add_argument("--sgd-check", action="store_true",
                    help="also take single plain SGD steps on positive-only advantages from the starting weights "
                         "and print whether the weighted log-likelihood rises and how many reinforced rows gain")
    args = ap.parse_args()
    from stepgym.trainers.config import preset
    from stepgym.trainers.rollout import is_informative
    from stepgym.trainers.trainer import Trainer, _frozen_copy

    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        cfg = preset(args.preset, **{"torch_threads": 1, **overrides, "model": args.model, "sft_episodes": 0,
                                     "before_sft_eval_tasks": 0, "eval_tasks": 1, "iterations": 1, "run_dir": tmp})
        trainer = Trainer(cfg, progress=False)
        try:
            trainer.optimizer = trainer._make_optimizer(cfg.lr)
            if cfg.kl_coef > 0:
                trainer.reference = _frozen_copy(trainer.policy.model)
            batch, _ = trainer.collect(0)
            trained = batch.filter(is_informative) if cfg.filter_groups else batch
            adv = trainer.advantages(trained)
            rows = trained.rows
            if args.sgd_check:
                sgd_check(trainer, rows, adv)
            before = trainer.score(rows)
            stats = trainer.update(trained, adv, 0)
            after = trainer.score(rows)
            tokenizer = trainer.policy.tokenizer
        finally:
            trainer.close()
    change = np.array([float(a[0] - b[0]) for a, b in zip(after, before)])
    p_first = np.array([float(b[0].exp()) for b in before])
    print(f"{len(rows)} rows in {len(trained.groups)} of {len(batch.groups)} groups; rollout success "
          f"{np.mean([e.episode.success for e in batch.episodes]):.3f}")
    print("update: " + ", ".join(f"{k} {v:.4g}" for k, v in stats.items() if isinstance(v, float)))
    print(f"advantage quantiles 0/10/25/50/75/90/100%: {np.quantile(adv, [0, .1, .25, .5, .75, .9, 1]).round(3).tolist()}")
    for name, sel in (("positive", adv > 1e-9), ("zero", np.abs(adv) <= 1e-9), ("negative", adv < -1e-9)):
        if sel.any():
            print(f"  {name:>8} advantage: {int(sel.sum()):5d} rows, first-token prob before {p_first[sel].mean():.3f}, "
                  f"log-prob change {change[sel].mean():+.4f}")
    if len(rows) > 1 and np.std(adv) > 0 and np.std(change) > 0:
        print(f"correlation of log-prob change with advantage: {np.corrcoef(adv, change)[0, 1]:.3f}")
    print("most sampled responses:", Counter(tokenizer.decode(r.response_ids) for r in rows).most_common(6))


if __name__ == "__main__":
    main()
