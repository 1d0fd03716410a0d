"""Data-parallel training with torch.distributed: the few collective operations the trainer needs.

Launch any `stepgym train` command with `torchrun --nproc_per_node N -m stepgym train ...`:
torchrun sets RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT and this module joins the process group
(gloo on CPU, nccl on CUDA). Then

- every rank plays its share of each iteration's groups (groups are never split: advantages are
  computed within groups, so no rollout data crosses ranks);
- each optimizer step's minibatch is the union of every rank's share; losses are divided by the
  token / sequence counts of the whole minibatch and gradients are summed across ranks, so the
  update equals the one a single process would make on the whole minibatch;
- rank 0 alone evaluates, logs, writes checkpoints and plots; the others wait for it.

Without torchrun (WORLD_SIZE unset or 1) every function here is the identity of one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """This process's place in the process group."""

    rank: int = 0
    world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, items: list[T]) -> list[T]:
        """This rank's share of `items` (every world-th item, from its rank)."""
        return items[self.rank:: self.world] if self.enabled else list(items)


def init_from_env() -> Dist:
    """Join the process group torchrun describes in the environment (or stay a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


def all_reduce(values: list[float], d: Dist, op: str = "sum") -> list[float]:
    """Element-wise sum (or max) of `values` over all ranks."""
    if not d.enabled:
        return list(values)
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(t, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX)
    return t.tolist()


def all_reduce_gradients(parameters, d: Dist) -> None:
    """Sum every parameter's gradient over all ranks (one flat buffer, one collective call)."""
    if not d.enabled:
        return
    import torch.distributed as dist

    params = [p for p in parameters if p.requires_grad]
    for p in params:
        if p.grad is None:  # a rank whose share was empty still takes part in the sum
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset: offset + n].view_as(p.grad))
        offset += n


def gather(obj: Any, d: Dist) -> list[Any]:
    """Every rank's `obj`, in rank order (picklable objects)."""
    if not d.enabled:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any, d: Dist) -> Any:
    """Rank 0's `obj` on every rank."""
    if not d.enabled:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(d: Dist) -> None:
    if d.enabled:
        import torch.distributed as dist

        dist.barrier()


def shutdown(d: Dist) -> None:
    if d.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
