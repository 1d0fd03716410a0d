"""Compare stepgym's answer rules with the benchmarks' own evaluator functions on random replies.

The evaluators' functions are taken from their source files (a local checkout: nothing is
downloaded); only the named function definitions are executed.

    git clone https://github.com/EvolvingLMMs-Lab/lmms-eval  /src/lmms-eval
    git clone https://github.com/BradyFU/Video-MME /src/Video-MME && git -C /src/Video-MME checkout 4e7566d
    python scripts/compare_answer_rules.py --lmms-eval /src/lmms-eval \\
        --videomme /src/Video-MME/evaluation/eval_your_results.py --replies 200000

(Video-MME's `evaluation/` folder was later removed from its repository; 4e7566d has it.)
Prints the number of replies each rule read differently from its evaluator (0 is agreement).
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stepgym.rewards.video import (  # noqa: E402
    lmms_eval_mcq_answer,
    longvideobench_answer,
    mvbench_answer,
    videomme_answer,
)

PIECES = ["A", "B", "C", "D", "E", "a", "b", "c", "d", "e", "(B)", "(b)", "B.", "b.", "C:", "D)", "The answer is",
          "The best answer is", "Answer:", "Best answer:", "Best option:", "The best option is", "the", "cat", "is",
          "I", "think", ",", ".", "!", "?", "-", "_", "/", "(", ")", "1,000", "3.5", "'", '"', "\n", "\t",
          "Because", "Don't", "know", "option", "E.", "x"]
OPTIONS = ["o1", "o2", "o3", "o4"]


def functions(path: Path, names: set[str]) -> dict:
    """The named top-level functions (and private constants) of a Python file, defined in a fresh namespace."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ns: dict = {"re": re, "random": random, "Optional": typing.Optional, "List": list}
    for node in tree.body:
        keep = (isinstance(node, ast.FunctionDef) and node.name in names) or (
            isinstance(node, ast.Assign) and any(getattr(t, "id", "").startswith("_") for t in node.targets))
        if keep:
            exec(compile(ast.Module([node], []), str(path), "exec"), ns)  # noqa: S102 - the evaluator's own code
    missing = names - set(ns)
    if missing:
        raise SystemExit(f"{path}: no {sorted(missing)} found")
    return ns


def reply(rng: random.Random) -> str:
    parts = [rng.choice(PIECES) for _ in range(rng.randint(0, 8))]
    return " ".join(parts) if rng.random() < 0.7 else "".join(parts)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lmms-eval", required=True, type=Path, help="an lmms-eval checkout")
    p.add_argument("--videomme", type=Path, default=None, help="Video-MME's evaluation/eval_your_results.py")
    p.add_argument("--replies", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    tasks = args.lmms_eval / "lmms_eval" / "tasks"
    mvb = functions(tasks / "mvbench" / "utils.py", {"mcq_acc"})["mcq_acc"]
    lvb = functions(tasks / "longvideobench" / "utils.py", {"parse_multi_choice_response"})["parse_multi_choice_response"]
    mcq_file = tasks / "_task_utils" / "mcq_extract.py"
    mcq = functions(mcq_file, {"extract_mcq_answer"})["extract_mcq_answer"] if mcq_file.is_file() else None
    official = functions(args.videomme, {"extract_characters_regex"})["extract_characters_regex"] if args.videomme else None
    rng = random.Random(args.seed)
    differ = {"videomme": 0, "videomme-lmms-eval": 0, "mvbench": 0, "longvideobench": 0}
    for _ in range(args.replies):
        s = reply(rng)
        if official is not None and official(s) != (videomme_answer(s, OPTIONS) or ""):
            differ["videomme"] += 1
        if mcq is not None and mcq(s, choices=list("ABCD")) != (lmms_eval_mcq_answer(s, OPTIONS) or ""):
            differ["videomme-lmms-eval"] += 1
        differ["mvbench"] += any(mvb(gt, s) != int(mvbench_answer(s, OPTIONS) == gt) for gt in "ABCD")
        # LongVideoBench guesses when it reads nothing: compare the replies it reads the same under two seeds
        random.seed(1)
        first = lvb(s, list("ABCD"), {})
        random.seed(2)
        if first == lvb(s, list("ABCD"), {}) and first != longvideobench_answer(s, OPTIONS, rng=0):
            differ["longvideobench"] += 1
    compared = [k for k, f in (("videomme", official), ("videomme-lmms-eval", mcq)) if f is None]
    for name, n in differ.items():
        note = " (evaluator source not given)" if name in compared else ""
        print(f"{name:20s} {n} of {args.replies} replies read differently{note}")
    return 0 if not any(differ.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
