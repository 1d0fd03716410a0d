"""Static HTML pages of episodes with each action drawn on its screenshot.

- `write_report(DIR)` (`stepgym view DIR`): recorded episodes step by step; GUI actions (Mobile-v0,
  Desktop-v0) drawn where they touched; `compare=DIR2` puts a second run's episodes of the same
  task and seed beside each one. Branched rollouts (`meta["branch"]`, trainers/branching.py) are
  shown as trees: each branch right under its parent, indented, linked to it, its shared steps dimmed.
- `write_offline_viewer(...)` (`stepgym eval-offline --viewer`): recorded benchmark steps, the
  ground truth in green and each run's prediction in blue (right) or red (wrong), one column per run.

Both pages filter by task (text), success and action type. Marks are SVG drawn in screen pixels
(`viewBox` = the screen), so they sit on the action's spot however the screenshot is scaled:
a point is a filled circle, a swipe or drag an arrow, a target box a dashed rectangle, and
actions without a place (typing, keys, back) a caption.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stepgym.episodes.evaluate import summarize
from stepgym.episodes.io import read_episodes

GT_COLOUR, RIGHT_COLOUR, WRONG_COLOUR, ACTION_COLOUR = "#12a150", "#1f6feb", "#e5241b", "#d43fd4"

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px} .ep{background:#fff;border:1px solid #ddd;border-radius:8px;margin:16px 0;padding:12px}
.ok{color:#187a2f;font-weight:600} .fail{color:#b3261e;font-weight:600}
.replay{background:#fff4d6;border:1px solid #e0b13c;border-radius:4px;padding:0 4px;font-size:12px}
table.steps{border-collapse:collapse;width:100%} .steps td,.steps th{border-top:1px solid #eee;padding:6px;vertical-align:top;text-align:left}
pre{white-space:pre-wrap;margin:0;font-size:12px;max-height:240px;overflow:auto}
img{border:1px solid #ccc} .bad{background:#fff1f0} summary{cursor:pointer}
.shot{position:relative;display:inline-block;width:280px;line-height:0}
.shot img{width:100%;height:auto;display:block;image-rendering:auto}
.shot svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:visible}
.caption{font-size:12px;margin:4px 0;line-height:1.3} .gt{color:#12a150} .right{color:#1f6feb} .wrong{color:#e5241b}
.filters{position:sticky;top:0;background:#fafafa;padding:8px 0;z-index:2;border-bottom:1px solid #ddd}
.filters label{margin-right:14px;font-size:13px} .runs{display:flex;gap:16px;flex-wrap:wrap}
.metrics td{padding:2px 10px 2px 0;font-size:13px} .hidden{display:none} td.gtcol{width:220px;max-width:220px}
.runs>div{max-width:420px} .branch{border-left:3px solid #8ab4f8} tr.shared{opacity:.45}
"""

_FILTER_JS = """
function applyFilters(){
  const task=document.getElementById('f-task').value.toLowerCase();
  const succ=document.getElementById('f-success').value;
  const type=document.getElementById('f-type').value;
  const wrongOnly=document.getElementById('f-wrong')&&document.getElementById('f-wrong').checked;
  let shown=0;
  for(const ep of document.querySelectorAll('.ep')){
    let ok=(!task||ep.dataset.task.includes(task))&&(!succ||ep.dataset.success===succ||(succ==='disagree'&&ep.dataset.disagree==='1'));
    let steps=0;
    for(const st of ep.querySelectorAll('tr.st')){
      const vis=(!type||st.dataset.type===type)&&(!wrongOnly||st.dataset.correct==='0');
      st.classList.toggle('hidden',!vis); if(vis)steps++;
    }
    ok=ok&&(steps>0||(!type&&!wrongOnly));
    ep.classList.toggle('hidden',!ok); if(ok)shown++;
  }
  document.getElementById('f-count').textContent=shown+' shown';
}
for(const id of ['f-task','f-success','f-type','f-wrong']){const el=document.getElementById(id); if(el){el.addEventListener('input',applyFilters);el.addEventListener('change',applyFilters);}}
applyFilters();
"""


# -- drawing ----------------------------------------------------------------------------------
def svg_marks(marks: Sequence[Mapping[str, Any]], screen: Sequence[float], colour: str, scale: float = 1.0) -> str:
    """SVG elements for marks in screen pixels; `scale` shrinks points drawn on top of others."""
    w, h = screen
    r = 0.022 * max(w, h) * scale
    out = []
    for m in marks:
        kind = m.get("kind")
        if kind == "point":
            out.append(f'<circle class="mark" cx="{m["x"]:.2f}" cy="{m["y"]:.2f}" r="{r:.2f}" fill="{colour}" '
                       f'stroke="#fff" stroke-width="2" vector-effect="non-scaling-stroke"/>')
        elif kind == "arrow":
            out.append(f'<line class="mark" x1="{m["x1"]:.2f}" y1="{m["y1"]:.2f}" x2="{m["x2"]:.2f}" y2="{m["y2"]:.2f}" '
                       f'stroke="{colour}" stroke-width="4" vector-effect="non-scaling-stroke" '
                       f'marker-end="url(#head-{colour[1:]})"/>'
                       f'<circle class="mark" cx="{m["x1"]:.2f}" cy="{m["y1"]:.2f}" r="{r * 0.6:.2f}" fill="{colour}"/>')
        elif kind == "box":
            out.append(f'<rect class="mark" x="{m["x1"]:.2f}" y="{m["y1"]:.2f}" width="{m["x2"] - m["x1"]:.2f}" '
                       f'height="{m["y2"] - m["y1"]:.2f}" fill="none" stroke="{colour}" stroke-width="2" '
                       f'stroke-dasharray="6 3" vector-effect="non-scaling-stroke"/>')
    return "".join(out)


def _defs(colours: Sequence[str]) -> str:
    heads = "".join(f'<marker id="head-{c[1:]}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="5" markerHeight="5" '
                    f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>' for c in colours)
    return f"<defs>{heads}</defs>"


def figure(image: str | None, screen: Sequence[float] | None, layers: Sequence[tuple[Sequence[Mapping], str, float]]) -> str:
    """A screenshot with SVG layers of marks on top: [(marks, colour, point scale)]."""
    if not image:
        return ""
    img = f'<img src="{html.escape(image)}" loading="lazy" alt="screenshot">'
    if not screen:
        return f'<div class="shot">{img}</div>'
    w, h = screen
    body = "".join(svg_marks(marks, screen, colour, scale) for marks, colour, scale in layers)
    colours = sorted({c for _, c, _ in layers})
    return (f'<div class="shot">{img}<svg viewBox="0 0 {w} {h}" preserveAspectRatio="none" '
            f'xmlns="http://www.w3.org/2000/svg">{_defs(colours)}{body}</svg></div>')


def captions(marks: Sequence[Mapping[str, Any]], css: str, prefix: str) -> str:
    labels = [m["text"] for m in marks if m.get("kind") == "label"]
    return "".join(f'<div class="caption {css}">{html.escape(prefix)}{html.escape(t)}</div>' for t in labels)


def _filters(types: Sequence[str], success_options: Sequence[tuple[str, str]], wrong_only: bool) -> str:
    opts = "".join(f'<option value="{html.escape(t)}">{html.escape(t)}</option>' for t in types)
    succ = "".join(f'<option value="{v}">{html.escape(label)}</option>' for v, label in success_options)
    wrong = '<label><input type="checkbox" id="f-wrong"> wrong steps only</label>' if wrong_only else ""
    return ('<div class="filters"><label>task <input id="f-task" type="search" placeholder="id or instruction"></label>'
            f'<label>success <select id="f-success"><option value="">all</option>{succ}</select></label>'
            f'<label>action type <select id="f-type"><option value="">all</option>{opts}</select></label>{wrong}'
            '<span id="f-count"></span></div>')


# -- recorded episodes (stepgym view) ---------------------------------------------------------
def _recorded_marks(ep, step) -> tuple[list[dict], str]:
    """(marks, action type) of a recorded step; no marks when the env has no screen actions."""
    from stepgym.episodes.offline.dataset import OfflineEpisode
    from stepgym.episodes.offline.loaders.recordings import env_family, parse_elements, screen_of
    from stepgym.episodes.offline.protocols.recordings import DESKTOP, MOBILE
    from stepgym.rewards.offline.stepgym_actions import desktop_kind, mobile_kind

    parsed = step.parsed_action if isinstance(step.parsed_action, dict) else None
    if parsed is None:
        return [], "invalid"
    try:
        family = env_family(ep.env_id)
    except ValueError:
        return [], str(parsed.get("action_type", parsed.get("move", "action")))
    step.elements = step.elements or parse_elements(step.observation, family)
    step.screen = step.screen or screen_of(ep, family)
    card = MOBILE if family == "mobile" else DESKTOP
    kind = mobile_kind(parsed) if family == "mobile" else desktop_kind(parsed)
    return card.adapter.marks(parsed, OfflineEpisode(episode=ep), step), kind


def _recorded_cell(ep, step) -> str:
    marks, _ = _recorded_marks(ep, step)
    fig = figure(step.image, step.screen, [(marks, ACTION_COLOUR, 1.0)]) if step.image else ""
    err = f'<div class="fail">{html.escape(step.action_error)}</div>' if step.action_error else ""
    return f"{fig}{captions(marks, 'right', '')}<pre>{html.escape(step.observation)}</pre>", f"<pre>{html.escape(step.action)}</pre>{err}"


def _replay_badge(mark: Mapping[str, Any] | None) -> str:
    """The mark of an episode injected by experience replay (`stepgym.trainers.replay`), or ''."""
    if not mark:
        return ""
    where = f"replayed into group {mark.get('group_id')} at iteration {mark.get('iteration')}"
    return (f' · <span class="replay" title="{html.escape(where)}">replayed, stored at iteration '
            f"{html.escape(str(mark.get('source_iteration')))}</span>")


def _ep_attrs(task: str, success: bool, types: set[str], disagree: bool = False) -> str:
    return (f' data-task="{html.escape(task.lower())}" data-success="{int(success)}" data-disagree="{int(disagree)}"'
            f' data-types="{html.escape(" ".join(sorted(types)))}"')


def tree_order(episodes: Sequence[Any]) -> list[tuple[Any, int]]:
    """(episode, depth) with every branch right after its parent (depth-first, recorded order
    otherwise); an episode whose parent is not in the list is a root."""
    ids = {e.episode_id for e in episodes}
    children: dict[str | None, list[Any]] = {}
    for e in episodes:
        parent = (e.meta.get("branch") or {}).get("parent")
        children.setdefault(parent if parent in ids else None, []).append(e)
    out: list[tuple[Any, int]] = []
    stack = [(e, 0) for e in reversed(children.get(None, []))]
    while stack:
        e, depth = stack.pop()
        out.append((e, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(e.episode_id, [])))
    return out


def write_report(directory: str | Path, out: str | Path | None = None, max_episodes: int = 200,
                 compare: str | Path | None = None) -> Path:
    """Write an HTML page showing each recorded episode step by step; returns its path.

    `compare`: a second episode directory; its episode of the same task and seed is shown
    beside each one, step by step (e.g. the same evaluation before and after training).
    """
    directory = Path(directory)
    eps = list(read_episodes(directory))
    other = {}
    if compare is not None:
        other = {(e.task_id, e.seed): e for e in read_episodes(compare)}
    out = Path(out) if out else directory / "index.html"
    rel_other = Path(compare).resolve() if compare else None
    s = summarize(eps)
    all_types: set[str] = set()
    parts = [f"<!doctype html><meta charset=utf-8><title>stepgym episodes: {html.escape(str(directory))}</title>",
             f"<style>{_CSS}</style><h1>{len(eps)} episodes in {html.escape(str(directory))}</h1>",
             f"<p>success {s.success_rate:.1%} (95% CI {s.success_ci[0]:.2f}–{s.success_ci[1]:.2f}), "
             f"mean return {s.mean_return:.3f}, mean steps {s.mean_steps:.1f}, "
             f"invalid actions {s.invalid_action_rate:.1%}</p>"]
    if compare is not None:
        so = summarize(other.values())
        parts.append(f"<p>compared with {html.escape(str(compare))}: {len(other)} episodes, success {so.success_rate:.1%}</p>")
    body = []
    for ep, depth in tree_order(eps[:max_episodes]):
        twin = other.get((ep.task_id, ep.seed))
        branch = ep.meta.get("branch") or {}
        shared_until = int(branch.get("step", 0)) if branch.get("parent") else 0
        badge = '<span class="ok">success</span>' if ep.success else '<span class="fail">failure</span>'
        badge += _replay_badge(ep.meta.get("replay"))
        meta = html.escape(json.dumps(ep.meta)[:300])
        head = "<tr><th>#</th><th>observation</th><th>action</th><th>reward</th><th>state</th>"
        head += "<th>other run</th></tr>" if compare is not None else "</tr>"
        rows, types = [], set()
        for k, st in enumerate(ep.steps):
            _, kind = _recorded_marks(ep, st)
            types.add(kind)
            obs_cell, act_cell = _recorded_cell(ep, st)
            cls = ("st bad" if not st.action_valid else "st") + (" shared" if k < shared_until else "")
            extra = ""
            if compare is not None:
                o = twin.steps[k] if twin and k < len(twin.steps) else None
                if o is not None and o.image and rel_other is not None:
                    o.image = str(rel_other / o.image)
                extra = "<td>" + ("".join(_recorded_cell(twin, o)) if o is not None else "—") + "</td>"
            rows.append(f'<tr class="{cls}" data-type="{html.escape(kind)}" data-correct="{int(st.action_valid)}">'
                        f"<td>{st.index}</td><td>{obs_cell}</td><td>{act_cell}</td><td>{st.reward:g}</td>"
                        f"<td><code>{html.escape(st.state_key)}</code></td>{extra}</tr>")
        all_types |= types
        disagree = twin is not None and twin.success != ep.success
        twin_note = ""
        if compare is not None:
            twin_note = (f" · other run: {'success' if twin.success else 'failure'}, {twin.num_steps} steps" if twin
                         else " · not in the other run")
        tree_note, style = "", ""
        if shared_until:
            parent = html.escape(str(branch["parent"]))
            tree_note = (f' · branch of <a href="#ep-{parent}">{parent[:8]}</a> at step {shared_until}'
                         f" (steps before it shared)")
        if depth:
            style = f' style="margin-left:{24 * depth}px"'
        body.append(
            f'<div class="ep{" branch" if depth else ""}" id="ep-{html.escape(ep.episode_id)}"{style}'
            f'{_ep_attrs(ep.task_id + " " + ep.instruction, ep.success, types, disagree)}><details>'
            f"<summary><b>{html.escape(ep.task_id)}</b> · {html.escape(ep.env_id)} · "
            f"seed {ep.seed} · {badge} · return {ep.total_reward:g} · {ep.num_steps} steps{twin_note}{tree_note}</summary>"
            f"<p>{html.escape(ep.instruction)}</p><p><small>{meta}</small></p>"
            f'<table class="steps">{head}' + "".join(rows) + "</table></details></div>"
        )
    succ = [("1", "success"), ("0", "failure")] + ([("disagree", "runs disagree")] if compare is not None else [])
    parts.append(_filters(sorted(all_types), succ, wrong_only=False))
    parts += body
    if len(eps) > max_episodes:
        parts.append(f"<p>… {len(eps) - max_episodes} more episodes not shown.</p>")
    parts.append(f"<script>{_FILTER_JS}</script>")
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


# -- offline evaluation (stepgym eval-offline --viewer) --------------------------------------------
class MediaCollector:
    """Keeps the first `max_episodes` scored episodes' screenshots for the viewer (callback of the scorer).

    Images are written to `out_dir/media/` as PNGs at most `max_side` pixels wide or high; marks
    stay in screen pixels, so shrinking does not move them.
    """

    def __init__(self, out_dir: str | Path, max_episodes: int = 50, max_side: int = 720) -> None:
        self.out_dir = Path(out_dir)
        self.max_episodes = max_episodes
        self.max_side = max_side
        self.episodes: list[dict[str, Any]] = []

    def __call__(self, ep, rows: list[dict]) -> None:
        if len(self.episodes) >= self.max_episodes:
            return
        from PIL import Image

        scored = {r["step"] for r in rows}
        steps = []
        for i, step in enumerate(ep.episode.steps):
            if step.index not in scored:
                continue
            rel = None
            try:
                arr = ep.image(i)
            except (OSError, ValueError):
                arr = None
            if arr is not None:
                rel = f"media/{_safe(ep.episode.episode_id)}/{step.index:04d}.png"
                path = self.out_dir / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                im = Image.fromarray(arr)
                im.thumbnail((self.max_side, self.max_side))
                im.save(path)
            screen = step.screen or (list(arr.shape[1::-1]) if arr is not None else None)
            steps.append({"step": step.index, "image": rel, "screen": screen, "instruction": step.instruction})
        self.episodes.append({"episode_id": ep.episode.episode_id, "task_id": ep.episode.task_id,
                              "instruction": ep.episode.instruction, "group": ep.group, "steps": steps})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))[:80] or "episode"


def _run_header(name: str, report: Mapping[str, Any]) -> str:
    rows = []

    def add(prefix: str, metrics: Mapping[str, Any], intervals: Mapping[str, Any]) -> None:
        for k, v in metrics.items():
            if isinstance(v, Mapping):
                add(f"{prefix}{k}.", v, intervals.get(k, {}) or {})
            elif v is not None:
                ci = intervals.get(k) or [v, v]
                rows.append(f"<tr><td>{html.escape(prefix + k)}</td><td><b>{v:.3f}</b></td>"
                            f"<td>[{ci[0]:.3f}, {ci[1]:.3f}]</td></tr>")

    add("", report.get("metrics", {}), report.get("intervals", {}))
    src = html.escape(json.dumps(report.get("source", {}))[:160])
    return (f'<div><h3>{html.escape(name)}</h3><p><small>{report.get("card")} · {report.get("steps")} steps · '
            f'{src}</small></p><table class="metrics">{"".join(rows)}</table></div>')


def _pred_cell(row: Mapping[str, Any] | None, step: Mapping[str, Any]) -> str:
    if row is None:
        return "<td>not scored in this run</td>"
    css = "right" if row["correct"] else "wrong"
    colour = RIGHT_COLOUR if row["correct"] else WRONG_COLOUR
    fig = figure(step["image"], step["screen"], [(row["gt_marks"], GT_COLOUR, 1.0), (row["pred_marks"], colour, 0.6)])
    verdict = "right" if row["correct"] else ("wrong (type right)" if row["type_match"] else "wrong")
    pred = row.get("pred_text") or (json.dumps(row["pred"]) if row.get("pred") is not None else "—")
    note = f'<div class="caption">{html.escape(row["note"])}</div>' if row.get("note") else ""
    return (f"<td>{fig}{captions(row['gt_marks'], 'gt', 'truth: ')}{captions(row['pred_marks'], css, 'predicted: ')}"
            f'<div class="caption {css}"><b>{verdict}</b> · {html.escape(row["pred_type"])}</div>'
            f"<pre>{html.escape(pred)}</pre>{note}</td>")


def write_offline_viewer(out_dir: str | Path, episodes: Sequence[Mapping[str, Any]],
                         runs: Sequence[tuple[str, Mapping[str, Any]]], title: str = "") -> Path:
    """Write `out_dir/index.html`: the collected episodes' steps with truth and each run's prediction."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_run = [{(r["episode_id"], r["step"]): r for r in rep.get("per_step", [])} for _, rep in runs]
    types: set[str] = set()
    body = []
    for ep in episodes:
        eid = ep["episode_id"]
        rows, ep_types, verdicts = [], set(), []
        for st in ep["steps"]:
            cells = [idx.get((eid, st["step"])) for idx in by_run]
            first = next((c for c in cells if c is not None), None)
            if first is None:
                continue
            ep_types.add(first["gt_type"])
            gt_text = html.escape(json.dumps(first["gt"], ensure_ascii=False)[:400])
            instr = f'<div class="caption">step instruction: {html.escape(st["instruction"])}</div>' if st.get("instruction") else ""
            correct0 = cells[0]["correct"] if cells[0] is not None else True
            rows.append(f'<tr class="st" data-type="{html.escape(first["gt_type"])}" data-correct="{int(correct0)}">'
                        f'<td>{st["step"]}</td><td class="gtcol"><div class="caption gt"><b>{html.escape(first["gt_type"])}</b></div>'
                        f"<pre>{gt_text}</pre>{instr}</td>" + "".join(_pred_cell(c, st) for c in cells) + "</tr>")
            verdicts.append([c["correct"] if c else None for c in cells])
        if not rows:
            continue
        types |= ep_types
        success = [all(v[i] for v in verdicts if v[i] is not None) for i in range(len(runs))]
        disagree = len(set(success)) > 1
        badges = " · ".join(f'{html.escape(name)}: <span class="{"ok" if ok else "fail"}">{"all steps right" if ok else "some step wrong"}</span>'
                            for (name, _), ok in zip(runs, success))
        heads = "".join(f"<th>{html.escape(name)}</th>" for name, _ in runs)
        body.append(f'<div class="ep"{_ep_attrs(eid + " " + ep["task_id"] + " " + ep["instruction"], success[0], ep_types, disagree)}>'
                    f"<details open><summary><b>{html.escape(eid)}</b> · {html.escape(ep.get('group') or '')} · {badges}</summary>"
                    f"<p>{html.escape(ep['instruction'])}</p><table class=\"steps\"><tr><th>#</th><th>ground truth</th>{heads}</tr>"
                    + "".join(rows) + "</table></details></div>")
    legend = ('<p><span class="gt">● ground truth</span> · <span class="right">● prediction judged right</span> · '
              '<span class="wrong">● prediction judged wrong</span> (points, arrows for swipes, dashed target boxes)</p>')
    succ = [("1", "every step right"), ("0", "some step wrong")] + ([("disagree", "runs disagree")] if len(runs) > 1 else [])
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title or 'stepgym offline evaluation')}</title>"
            f"<style>{_CSS}</style><h1>{html.escape(title or 'stepgym offline evaluation')}</h1>"
            f'<div class="runs">{"".join(_run_header(n, r) for n, r in runs)}</div>{legend}'
            + _filters(sorted(types), succ, wrong_only=True) + "".join(body)
            + (f"<p>{len(episodes)} episodes shown (the viewer keeps the first ones; report.json has every step).</p>")
            + f"<script>{_FILTER_JS}</script>")
    out = out_dir / "index.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
