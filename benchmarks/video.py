"""Video benchmark: decode throughput, Slow-Fast vs uniform at equal token budget, TSPO needle recall.

    python benchmarks/video.py            # about 2 minutes on a laptop CPU
    python benchmarks/video.py --quick    # smaller sizes, for a smoke run

1. Decode throughput (frames/s) of decord and PyAV on the same H.264 file: sequential (every
   frame, in batches) and random access (single frames at random positions).
2. Slow-Fast vs uniform sampling on generated needle videos (static textured scenes with cuts and
   a 0.5 s inserted needle), at the same visual-token budget. Uniform frames get the resolution of
   Slow-Fast's slow frames, so both show key frames in the same detail; "frames" is how many
   frames each shows, "needle recall" the share of videos where a shown frame lies in the needle.
3. TSPO: needle recall@k of the temporal agent before and after training vs uniform k frames, on
   held-out generated videos (the oracle answerer is right exactly when a needle frame is chosen).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stepgym.agents.slowfast import SlowFastConfig, encode_video, uniform_frame_count  # noqa: E402
from stepgym.envs.video.generate import make_video  # noqa: E402
from stepgym.envs.video.io import VideoReader, sample_indices, write_video  # noqa: E402


def decode_throughput(tmp: Path, seconds: float, random_reads: int) -> None:
    rng = np.random.default_rng(0)
    fps = 30
    # a moving, textured clip: 320x240, key frame every 2 s (the writer's default)
    base = rng.integers(0, 255, size=(240, 640, 3), dtype=np.uint8)
    frames = np.stack([base[:, (4 * i) % 320 : (4 * i) % 320 + 320] for i in range(int(seconds * fps))])
    path = write_video(tmp / "throughput.mp4", frames, fps=fps, crf=23)
    n = len(frames)
    print(f"\n== decode throughput: {n} frames 320x240 H.264 ({path.stat().st_size / 1e6:.1f} MB), frames/s")
    # frames per wall second and per CPU second (the CPU rate is steadier on a shared machine)
    print(f"{'backend':8s} {'sequential':>12s} {'seq/CPU-s':>10s} {'random':>8s} {'rnd/CPU-s':>10s}")
    results = {}
    for backend in ("decord", "pyav"):
        reader = VideoReader(path, backend)
        t, c = time.perf_counter(), time.process_time()
        for start in range(0, n, 32):
            reader.get_frames(np.arange(start, min(n, start + 32)))
        seq, seq_cpu = n / (time.perf_counter() - t), n / max(1e-9, time.process_time() - c)
        reader.close()
        reader = VideoReader(path, backend)
        picks = np.random.default_rng(1).integers(0, n, size=random_reads)
        t, c = time.perf_counter(), time.process_time()
        for i in picks:
            reader.get_frames([int(i)])
        rnd, rnd_cpu = random_reads / (time.perf_counter() - t), random_reads / max(1e-9, time.process_time() - c)
        reader.close()
        results[backend] = (seq, seq_cpu, rnd, rnd_cpu)
        print(f"{backend:8s} {seq:12.0f} {seq_cpu:10.0f} {rnd:8.1f} {rnd_cpu:10.1f}")
    d, p = results["decord"], results["pyav"]
    print(f"decord / PyAV: sequential {d[0] / p[0]:.2f}x (CPU {d[1] / p[1]:.2f}x), "
          f"random access {d[2] / p[2]:.2f}x (CPU {d[3] / p[3]:.2f}x)")


def slowfast_vs_uniform(tmp: Path, videos: int, duration: float, budget: int) -> None:
    cfg = SlowFastConfig(token_budget=budget, sample_fps=2.0)
    print(f"\n== Slow-Fast vs uniform at {budget} visual tokens: {videos} needle videos of {duration:.0f} s, "
          f"224x224, needle 0.5 s, candidates at {cfg.sample_fps} fps, threshold {cfg.similarity_threshold}")
    rows = []
    for i in range(videos):
        v = make_video("needle", 1000 + i, height=224, width=224, fps=4.0, duration=duration, needle_seconds=0.5)
        path = write_video(tmp / f"needle_{i}.mp4", v.frames, v.fps, crf=28)
        sf = encode_video(path, cfg)
        ts = sf.timestamps
        hit_sf = bool(np.any((ts >= v.evidence[0]) & (ts < v.evidence[1])))
        meta = VideoReader(path).meta
        n_uniform = uniform_frame_count(budget, sf.plan.slow_tokens)
        tu = meta.timestamps(sample_indices(meta, nframes=max(1, n_uniform)))
        hit_u = bool(np.any((tu >= v.evidence[0]) & (tu < v.evidence[1])))
        rows.append((sf.plan.num_frames, int(sf.plan.is_slow.sum()), sf.plan.slow_tokens, sf.plan.fast_tokens,
                     sf.plan.total_tokens, n_uniform, hit_sf, hit_u))
    a = np.array(rows, dtype=float)
    print(f"Slow-Fast: {a[:, 0].mean():.1f} frames ({a[:, 1].mean():.1f} slow at {a[:, 2].mean():.0f} tokens, "
          f"fast at {a[:, 3].mean():.0f}), {a[:, 4].mean():.0f} tokens used, needle recall {a[:, 6].mean():.2f}")
    print(f"uniform:   {a[:, 5].mean():.1f} frames at the slow frames' tokens, needle recall {a[:, 7].mean():.2f}")
    print(f"frames covered, Slow-Fast / uniform: {a[:, 0].mean() / a[:, 5].mean():.2f}x (target >= 2x)")


def tspo_recall(tmp: Path, videos: int, iterations: int) -> None:
    import torch

    from stepgym.trainers.tspo import TSPOConfig, TSPOTrainer, needle_samples

    torch.set_num_threads(1)  # a tiny network: threads only add synchronisation
    t = time.perf_counter()
    samples = needle_samples(tmp / "tspo", videos, seed=0, candidates=64, duration=24.0)
    n_eval = videos // 3
    prep = time.perf_counter() - t
    cfg = TSPOConfig(k=4, iterations=iterations, seed=0)
    t = time.perf_counter()
    report = TSPOTrainer(cfg).fit(samples[n_eval:], samples[:n_eval])
    train = time.perf_counter() - t
    print(f"\n== TSPO: k={cfg.k} of 64 candidates, {videos - n_eval} training / {n_eval} held-out needle videos "
          f"(24 s, needle 1 s), G={cfg.group_size}, {iterations} updates, lr {cfg.lr}, tau {cfg.tau_start}->{cfg.tau_end}")
    print(f"needle recall@{cfg.k}: uniform {report.uniform:.2f} | TSPO before {report.before:.2f} | "
          f"after {report.after:.2f} (sampled), {report.after_greedy:.2f} (greedy)   "
          f"[targets: uniform <= 0.3, after >= 0.9]")
    ratio = f"{report.after / report.uniform:.1f}x" if report.uniform > 0 else "inf (uniform never hits)"
    print(f"after / uniform: {ratio}; data {prep:.1f}s, training {train:.1f}s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    args = p.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.quick:
            decode_throughput(tmp, seconds=4, random_reads=20)
            slowfast_vs_uniform(tmp, videos=3, duration=40.0, budget=6000)
            tspo_recall(tmp, videos=18, iterations=40)
        else:
            decode_throughput(tmp, seconds=20, random_reads=60)
            slowfast_vs_uniform(tmp, videos=8, duration=90.0, budget=12000)
            tspo_recall(tmp, videos=36, iterations=100)
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
