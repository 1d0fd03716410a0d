"""The learning curve of a run, drawn from its metrics records."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_learning_curve(records: list[dict[str, Any]], out: str | Path, *, title: str,
                        eval_label: str) -> Path | None:
    """Rollout success per RL iteration and held-out success (with 95% intervals) per evaluation,
    against RL env steps; writes `out` (PNG) and returns it, or None before any RL iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rl = [m for m in records if m.get("phase") == "rl"]
    if not rl:
        return None
    ev = [m for m in records if m.get("phase") == "eval"]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([m["env_steps"] for m in rl], [m["rollout_success"] for m in rl], label="rollout success (train, sampled)")
    steps_at = {m["iteration"]: m["env_steps"] for m in rl}
    xs = [steps_at.get(m["iteration"], 0) for m in ev]
    ys = [m["eval_success"] for m in ev]
    # the 95% Wilson interval of each evaluation: how far apart two points must be to mean something
    lo = [max(y - m.get("eval_ci", [y, y])[0], 0.0) for y, m in zip(ys, ev)]
    hi = [max(m.get("eval_ci", [y, y])[1] - y, 0.0) for y, m in zip(ys, ev)]
    ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o--", capsize=3, label=f"held-out success ({eval_label}, 95% CI)")
    for m, x in zip(ev, xs):
        if m["name"] in ("before_sft", "after_sft"):
            ax.annotate(m["name"].replace("_", " "), (x, m["eval_success"]), textcoords="offset points", xytext=(4, 4))
    ax.set_xlabel("environment steps (RL)")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    out = Path(out)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
