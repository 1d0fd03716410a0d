"""Video benchmark: decode throughput, Slow-Fast vs uniform at equal token budget, TSPO needle recall.

    python benchmarks/video.py            # about 2 minutes on a laptop CPU
    python benchmarks/video.py --quick    # smaller sizes, for a smoke run

1. Decode throughput (frames/s) of decord and PyAV on the same H.264 file: sequential (every
   frame, in batches) and random access (single frames at random positions).
2. Slow-Fast vs uniform sampling on generated needle videos (static textured scenes with cuts and
   a 0.5 s inserted needle), at the same visual-token budget. Uniform frames get the resolution of
   Slow-Fast's slow frames, so both show key frames in the same detail; "frames" is how many
   frames each shows, "needle recall" the share of videos where a shown frame lies in the needle.
3. TSPO, fast setting: needle recall@k of the temporal agent before and after training vs uniform
   k frames, on held-out generated videos (thumbnail features; the oracle answerer is right exactly
   when a needle frame is chosen).
4. TSPO, real setting: frame and question features from the tiny Qwen2.5-VL's own towers and that
   model, frozen, as the answerer (its correctness is the reward, with the temporal reward), on the
   generated needle benchmark and on a Video-MME-layout fixture (the same kind of clips, written
   as Video-MME's parquet + data/<videoID>.mp4 and loaded by the Video-MME loader). Recall and
   answer accuracy of TSPO vs uniform sampling at the same k.
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

from stepgym.envs.video.generate import make_video, write_dataset  # noqa: E402
from stepgym.envs.video.io import VideoReader, sample_indices, write_video  # noqa: E402
from stepgym.envs.video.slowfast import SlowFastConfig, encode_video, uniform_frame_count  # noqa: E402


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
    from stepgym.trainers.tspo import TSPOConfig, TSPOTrainer, needle_samples

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


def write_videomme_fixture(root: Path, n: int, seed: int, duration: float) -> tuple[Path, Path, dict]:
    """Generated needle clips laid out as Video-MME releases them: the HF parquet (one row per
    question, `options` "A. ...", `videoID`) and data/<videoID>.mp4. Returns (parquet, video
    folder, {task_id: evidence span}): Video-MME publishes no evidence, the generator knows it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, evidence = [], {}
    for i in range(n):
        v = make_video("needle", seed + i, height=64, width=64, fps=4.0, duration=duration, needle_seconds=1.0)
        video_id = f"{i + 1:03d}"
        youtube_id = f"gen{seed + i:05d}Xq"
        write_video(root / "data" / f"{youtube_id}.mp4", v.frames, v.fps, crf=28)
        rows.append({"video_id": video_id, "duration": "short", "domain": "Knowledge", "sub_category": "Technology",
                     "url": "", "videoID": youtube_id, "question_id": f"{video_id}-1", "task_type": "Object Recognition",
                     "question": v.question, "options": [f"{'ABCD'[j]}. {o}" for j, o in enumerate(v.options)],
                     "answer": v.answer})
        evidence[f"videomme-{video_id}-1"] = v.evidence
    parquet = root / "videomme" / "test-00000-of-00001.parquet"
    parquet.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    return parquet, root, evidence


def tspo_real(tmp: Path, videos: int, fixture_videos: int, iterations: int) -> None:
    from stepgym.agents.hf import GenerationSettings, HFPolicy
    from stepgym.agents.tiny import build_tiny_vlm
    from stepgym.agents.vision_features import VLMEmbedder
    from stepgym.envs.video.datasets import load_benchmark
    from stepgym.envs.video.env import load_video_tasks
    from stepgym.trainers.tspo import TSPOConfig, TSPOTrainer, policy_answerer, samples_from_tasks

    t0 = time.perf_counter()
    model_dir = build_tiny_vlm(tmp / "tiny-vlm", size="tiny", seed=0)
    policy = HFPolicy(model_dir, config=GenerationSettings(temperature=0.0, max_new_tokens=8))
    embedder = VLMEmbedder(policy.model, policy.processor, tokens_per_frame=16)
    generated = load_video_tasks(write_dataset(tmp / "tspo-real", videos, 0, ("needle",), height=64, width=64,
                                               fps=4.0, duration=24.0, split="train"))
    parquet, video_dir, evidence = write_videomme_fixture(tmp / "videomme", fixture_videos, 500, 48.0)
    fixture = load_benchmark("videomme", parquet, video_dir)
    cfg = TSPOConfig(k=4, iterations=iterations, group_size=8, videos_per_iteration=4, lr=0.005, seed=0)
    print(f"\n== TSPO, real setting: tiny Qwen2.5-VL ({embedder.dim}-wide) features (vision tower, 16 tokens "
          f"per frame; question through its language model) and the same model frozen as answerer; k={cfg.k} of "
          f"48 candidates, G={cfg.group_size}, {iterations} updates")
    print(f"{'benchmark':38s} {'selector':14s} {'recall':>7s} {'accuracy':>9s}")
    for name, tasks, spans in (("generated needles (24 s)", list(generated), None),
                               ("Video-MME layout (48 s needles)", list(fixture), evidence)):
        samples = samples_from_tasks(tasks, 48, encoder=embedder, keep_frames=True, evidence=spans)
        n_eval = max(2, len(samples) // 3)
        answerer = policy_answerer(policy)
        report = TSPOTrainer(cfg, answerer).fit(samples[n_eval:], samples[:n_eval])
        label = f"{name}, {len(samples) - n_eval}/{n_eval}"
        for sel, recall, acc in (("uniform", report.uniform, report.accuracy["uniform"]),
                                 ("TSPO before", report.before, report.accuracy["before"]),
                                 ("TSPO after", report.after, report.accuracy["after"]),
                                 ("TSPO greedy", report.after_greedy, report.accuracy["after_greedy"])):
            print(f"{label:38s} {sel:14s} {recall:7.2f} {acc:9.2f}")
            label = ""
        read = {k: v for k, v in answerer.stats.items() if k != "replies"}
        print(f"{'':38s} answerer: {answerer.stats['replies']} replies, read as {read}")
    print(f"(chance accuracy 0.25; time {time.perf_counter() - t0:.0f}s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    p.add_argument("--only", choices=("decode", "slowfast", "tspo", "tspo-real"), default=None)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)  # this script's process: tiny networks, where threads only add synchronisation
    t0 = time.perf_counter()

    def want(part: str) -> bool:
        return args.only in (None, part)

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if want("decode"):
            decode_throughput(tmp, seconds=4 if args.quick else 20, random_reads=20 if args.quick else 60)
        if want("slowfast"):
            slowfast_vs_uniform(tmp, videos=3 if args.quick else 8, duration=40.0 if args.quick else 90.0,
                                budget=6000 if args.quick else 12000)
        if want("tspo"):
            tspo_recall(tmp, videos=18 if args.quick else 36, iterations=40 if args.quick else 100)
        if want("tspo-real"):
            tspo_real(tmp, videos=9 if args.quick else 24, fixture_videos=6 if args.quick else 12,
                      iterations=10 if args.quick else 40)
    print(f"\ntotal {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
