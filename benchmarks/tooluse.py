"""Tool-use speed: python sandbox start-up, tool calls per second, search latency.

    python benchmarks/tooluse.py [--runs 40]

Baselines measured in the same run: a bare `python -I -S -c pass` subprocess (what any
subprocess-based tool pays) for the sandbox, and a plain Python scan of every document for search.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgym.envs.tooluse import PythonSandbox, SandboxLimits, ToolUseEnv, builtin_tasks  # noqa: E402
from stepgym.envs.tooluse.sandbox import namespaces_available  # noqa: E402
from stepgym.envs.tooluse.tools.search import SearchIndex, load_corpus  # noqa: E402
from stepgym.paths import asset_path  # noqa: E402


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def row(name: str, xs: list[float], base: float | None = None) -> None:
    p50, p95 = pct(xs, 0.5) * 1e3, pct(xs, 0.95) * 1e3
    ratio = f"  {p50 / (base * 1e3):5.2f}x baseline p50" if base else ""
    print(f"  {name:<34} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms{ratio}")


def bench_python(runs: int) -> None:
    print(f"python tool start-up ({runs} runs of `pass`)")
    bare = timed(lambda: subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True), runs)
    base = pct(bare, 0.5)
    row("baseline: bare python -I -S", bare)
    modes = ["namespace", "audit"] if namespaces_available() else ["audit"]
    for mode in modes:
        box = PythonSandbox(SandboxLimits(), isolation=mode)
        res = box.run("pass")
        assert res.ok, res.error
        row(f"sandbox ({mode})", timed(lambda b=box: b.run("pass"), runs), base)


def bench_calls(runs: int) -> None:
    print("tool calls per second through ToolUseEnv.step (one call per step, reset every 8)")
    env = ToolUseEnv()
    for name, args in (("calculator", {"expression": "(1487 - 1320) * 3 // 7"}),
                       ("search", {"query": "inventor of the glass harp"}),
                       ("open", {"doc_id": "rikosho"}),
                       ("python", {"code": "print(sum(range(1000)))"})):
        n = runs if name == "python" else runs * 10
        t = time.perf_counter()
        for i in range(n):
            if i % 8 == 0:
                env.reset(seed=0, options={"task_id": "lookup-000"})
            _, _, _, _, info = env.step({"name": name, "arguments": args})
        dt = time.perf_counter() - t
        assert info["action_valid"]
        print(f"  {name:<34} {n / dt:10.1f} calls/s")


def bench_search(runs: int) -> None:
    docs = load_corpus(asset_path("tooluse", "corpus.jsonl.gz"))
    t = time.perf_counter()
    index = SearchIndex(docs)
    print(f"search ({len(docs)} documents; index built in {(time.perf_counter() - t) * 1e3:.1f} ms)")
    queries = [re.sub(r" Answer with .*", "", t.instruction) for t in builtin_tasks()][: runs * 5]
    words = [set(re.findall(r"[a-z0-9]+", f"{d.title} {d.text}".lower())) for d in docs]

    def scan(q: str) -> list[int]:
        terms = set(re.findall(r"[a-z0-9]+", q.lower()))
        return sorted(range(len(docs)), key=lambda i: -len(terms & words[i]))[:3]

    base = [timed(lambda q=q: scan(q), 1)[0] for q in queries]
    row("baseline: scan all documents", base)
    row("bm25s top-3", [timed(lambda q=q: index.search(q, 3), 1)[0] for q in queries], pct(base, 0.5))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    bench_python(args.runs)
    bench_calls(args.runs)
    bench_search(args.runs)


if __name__ == "__main__":
    main()
