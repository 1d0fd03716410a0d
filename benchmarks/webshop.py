"""WebShop speed: env steps/s in text mode, and search latency (p50/p95) at 5k and 100k products.

    python benchmarks/webshop.py            # ~1 minute on a laptop core
    python benchmarks/webshop.py --quick    # 5k catalog only

Baselines measured in the same run: the env's steps/s against the 1,000 steps/s target, and the
BM25 index against a plain Python scan that scores every product by query-token overlap (what
a search without an index costs).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stepgym.envs.webshop import WebShopEnv
from stepgym.envs.webshop.data import Catalog, human_goals, process_product
from stepgym.envs.webshop.env import goal_query
from stepgym.envs.webshop.generate import generate
from stepgym.envs.webshop.search import SearchIndex, product_document, tokenize


def env_steps_per_second(mode: str, seconds: float = 4.0) -> tuple[float, float, float]:
    """(random-policy steps/s, oracle steps/s, random-policy steps per CPU second) in one mode.

    Steps per CPU second is the figure to compare on a shared machine: wall-clock rates drop
    when other processes compete for the cores."""
    env = WebShopEnv(observation_mode=mode)
    rng = np.random.default_rng(0)
    out = []
    for policy in ("random", "oracle"):
        steps, t0, c0, seed = 0, time.perf_counter(), time.process_time(), 0
        while time.perf_counter() - t0 < seconds / 2:
            env.reset(seed=seed)
            seed += 1
            while True:
                if policy == "oracle":
                    action = env.oracle_action()
                else:
                    acts = env.available_actions()
                    action = acts[int(rng.integers(len(acts)))]
                _, _, term, trunc, _ = env.step(action)
                steps += 1
                if term or trunc:
                    break
        out.append(steps / (time.perf_counter() - t0))
        if policy == "random":
            per_cpu = steps / (time.process_time() - c0)
    return out[0], out[1], per_cpu


def catalog_of(num_products: int, num_goals: int) -> Catalog:
    """A generated catalog processed like the loader does (in memory, no files)."""
    import random

    data = generate(num_products, num_goals, seed=0)
    products = [process_product(raw, data["items_ins_v2"]) for raw in data["items_shuffle"]]
    prices = {p["asin"]: p["pricing"][0] for p in products}
    goals = human_goals(products, prices, data["items_human_ins"], random.Random(0))
    return Catalog(products, {p["asin"]: p for p in products}, prices, goals, name=f"bench{num_products}")


def latency_ms(fn, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 of `fn(query)` in milliseconds."""
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def naive_search(docs: list[set[str]]):
    def search(q: str) -> list[int]:
        qt = set(tokenize(q))
        scores = [len(qt & d) for d in docs]
        return sorted(range(len(docs)), key=lambda i: -scores[i])[:50]
    return search


def search_bench(num_products: int) -> None:
    t0 = time.perf_counter()
    cat = catalog_of(num_products, 1000)
    t1 = time.perf_counter()
    index = SearchIndex(cat.products)
    t2 = time.perf_counter()
    queries = [goal_query(g["instruction_text"]) for g in cat.goals]
    index.search(queries[0])  # warm-up
    p50, p95 = latency_ms(index.search, queries)
    hits = sum(g["asin"] in index.search(goal_query(g["instruction_text"])) for g in cat.goals[:300]) / 300
    docs = [set(tokenize(product_document(p))) for p in cat.products]
    n50, n95 = latency_ms(naive_search(docs), queries[:20])
    target = 5.0 if num_products <= 5000 else 30.0
    print(f"search @ {num_products:>7,} products: generate {t1 - t0:5.1f}s, index {t2 - t1:5.1f}s | "
          f"BM25 p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  (target p50 <= {target:.0f} ms: "
          f"{'ok' if p50 <= target else 'MISSED'}) | goal product in top 50: {hits:.0%}")
    print(f"    plain-scan baseline p50 {n50:7.2f} ms  p95 {n95:7.2f} ms  -> BM25 index is {n50 / p50:,.0f}x faster at p50")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="skip the 100k-product catalog")
    args = p.parse_args()
    for mode in ("text", "text_rich"):
        rnd, orc, cpu = env_steps_per_second(mode)
        print(f"env steps/s ({mode:9s}): random policy {rnd:8,.0f}  oracle {orc:8,.0f}  "
              f"(target 1,000: x{min(rnd, orc) / 1000:.1f}) | random policy per CPU-second {cpu:8,.0f}")
    for n in (5000,) if args.quick else (5000, 100_000):
        search_bench(n)


if __name__ == "__main__":
    main()
