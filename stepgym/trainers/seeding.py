"""Every random stream of a training run, derived from `TrainConfig.seed` in one documented way.

A stream is named by a path of words and integers, e.g. `("rollout", "reset", iteration, group)`,
and its seed is the first 8 bytes of SHA-256 over `f"{root}/{path...}"` (63 bits). So:

- two streams never share a seed by accident (no `seed * 1000 + it` collisions between stages);
- a stream's seed depends only on the root seed and its own name, never on the order in which
  other streams were drawn, which is what lets `--resume` replay an uninterrupted run exactly;
- a new stream can be added without changing any existing one.

The streams the trainer uses (all in `stepgym/trainers/`):

| path                                   | what it seeds                                         |
|----------------------------------------|-------------------------------------------------------|
| `model-init`                           | weights of a `tiny:` model                            |
| `sft-demos`, i                         | reset seed of the i-th oracle demonstration episode   |
| `sft-order`                            | SFT minibatch order                                   |
| `tasks`, it                            | the tasks sampled in RL iteration `it`                |
| `rollout-reset`, it, g                 | reset seed shared by the episodes of group g          |
| `rollout-sample`, it                   | token sampling of iteration `it` (one call per step)  |
| `update-order`, it                     | minibatch order of the update of iteration `it`       |
| `replay-draw`, it, group_id            | which stored success replay injects into that group   |
| `eval-reset`, i                        | reset seed of evaluation episode i (same every eval)  |
| `eval-sample`, name                    | token sampling of the evaluation called `name`        |

Torch's CPU kernels sum in an order that depends on the thread count, so a run is a function of
(seed, thread count): `TrainConfig.torch_threads` pins it.
"""

from __future__ import annotations

import hashlib


def derive_seed(root: int, *path: str | int) -> int:
    """The 63-bit seed of the stream named `path` under root seed `root`."""
    if not path:
        raise ValueError("derive_seed needs a stream name, e.g. derive_seed(seed, 'tasks', 3)")
    key = "/".join([str(int(root)), *map(str, path)])
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") & ((1 << 63) - 1)


def derive_small_seed(root: int, *path: str | int) -> int:
    """`derive_seed` folded to 31 bits, for APIs that take an int32 seed (env resets, NumPy legacy)."""
    return derive_seed(root, *path) & 0x7FFFFFFF
