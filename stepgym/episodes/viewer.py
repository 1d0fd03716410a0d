"""A static HTML report of recorded episodes (`stepgym view DIR`)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from stepgym.episodes.evaluate import summarize
from stepgym.episodes.io import read_episodes

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px} .ep{background:#fff;border:1px solid #ddd;border-radius:8px;margin:16px 0;padding:12px}
.ok{color:#187a2f;font-weight:600} .fail{color:#b3261e;font-weight:600}
table.steps{border-collapse:collapse;width:100%} .steps td,.steps th{border-top:1px solid #eee;padding:6px;vertical-align:top;text-align:left}
pre{white-space:pre-wrap;margin:0;font-size:12px;max-height:240px;overflow:auto}
img{max-width:320px;image-rendering:pixelated;border:1px solid #ccc}
.bad{background:#fff1f0} summary{cursor:pointer}
"""


def _row(step) -> str:
    img = f'<img src="{html.escape(step.image)}" loading="lazy">' if step.image else ""
    err = f'<div class="fail">{html.escape(step.action_error)}</div>' if step.action_error else ""
    cls = ' class="bad"' if not step.action_valid else ""
    return (f"<tr{cls}><td>{step.index}</td><td>{img}<pre>{html.escape(step.observation)}</pre></td>"
            f"<td><pre>{html.escape(step.action)}</pre>{err}</td><td>{step.reward:g}</td>"
            f"<td><code>{html.escape(step.state_key)}</code></td></tr>")


def write_report(directory: str | Path, out: str | Path | None = None, max_episodes: int = 200) -> Path:
    """Write an HTML page showing each recorded episode step by step; returns its path."""
    directory = Path(directory)
    eps = list(read_episodes(directory))
    out = Path(out) if out else directory / "index.html"
    s = summarize(eps)
    parts = [f"<!doctype html><meta charset=utf-8><title>stepgym episodes: {html.escape(str(directory))}</title>",
             f"<style>{_CSS}</style><h1>{len(eps)} episodes in {html.escape(str(directory))}</h1>",
             f"<p>success {s.success_rate:.1%} (95% CI {s.success_ci[0]:.2f}–{s.success_ci[1]:.2f}), "
             f"mean return {s.mean_return:.3f}, mean steps {s.mean_steps:.1f}, "
             f"invalid actions {s.invalid_action_rate:.1%}</p>"]
    for ep in eps[:max_episodes]:
        badge = '<span class="ok">success</span>' if ep.success else '<span class="fail">failure</span>'
        meta = html.escape(json.dumps(ep.meta)[:300])
        parts.append(
            f'<div class="ep"><details><summary><b>{html.escape(ep.task_id)}</b> · {html.escape(ep.env_id)} · '
            f"seed {ep.seed} · {badge} · return {ep.total_reward:g} · {ep.num_steps} steps</summary>"
            f"<p>{html.escape(ep.instruction)}</p><p><small>{meta}</small></p>"
            '<table class="steps"><tr><th>#</th><th>observation</th><th>action</th><th>reward</th><th>state</th></tr>'
            + "".join(_row(st) for st in ep.steps) + "</table></details></div>"
        )
    if len(eps) > max_episodes:
        parts.append(f"<p>… {len(eps) - max_episodes} more episodes not shown.</p>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
