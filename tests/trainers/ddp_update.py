"""Run by tests/trainers/test_distributed.py under torchrun: one update on a fixed batch.

Every rank plays the same groups (so 1 and N processes see the same global batch), keeps its share
of the groups, and takes one optimizer step over the whole batch; rank 0 saves the weights.
    torchrun --standalone --nproc_per_node N tests/trainers/ddp_update.py OUT_DIR [full]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from stepgym.trainers.config import TrainConfig
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.rollout import RolloutBatch
from stepgym.trainers.strategy import RolloutContext
from stepgym.trainers.trainer import Trainer


def config(out: Path, **kw) -> TrainConfig:
    base = dict(model="tiny:tiny", run_dir=str(out / "run"), sft_episodes=0, num_envs=4, tasks_per_iteration=4,
                group_size=3, env_kwargs={"image": False, "max_steps": 4}, minibatch_size=10_000, filter_groups=False,
                eval_tasks=2, max_new_tokens=3, system_prompt="Sokoban. Reply with a move.", torch_threads=1)
    base.update(kw)
    return TrainConfig(**base)


def one_update(out: Path) -> None:
    cfg = config(out)
    trainer = Trainer(cfg, progress=False)
    try:
        ctx = RolloutContext(trainer.pool, trainer.policy, trainer._sampling(1.0, 7), cfg, 0)
        full = trainer.strategy.collect(ctx, trainer.sample_groups(0))  # the same on every rank
        mine = RolloutBatch(tuple(trainer.dist.shard(list(full.groups))))
        if trainer.dist.is_main:
            torch.save(trainer.policy.model.state_dict(), out / "before.pt")
        stats = trainer.update(mine, ESTIMATORS.get("gigpo")(mine, cfg), 0)
        if trainer.dist.is_main:
            torch.save(trainer.policy.model.state_dict(), out / "weights.pt")
            (out / "stats.json").write_text(json.dumps({**stats, "rows": full.num_steps}))
    finally:
        trainer.close()


def full_run(out: Path) -> None:
    cfg = config(out, sft_episodes=8, sft_epochs=1, sft_batch_size=8, iterations=2, eval_every=1, minibatch_size=16,
                 before_sft_eval_tasks=2)
    trainer = Trainer(cfg, progress=False)
    try:
        results = trainer.run()
        if trainer.dist.is_main:
            (out / "results.json").write_text(json.dumps(results))
    finally:
        trainer.close()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (full_run if sys.argv[2:] == ["full"] else one_update)(out)
