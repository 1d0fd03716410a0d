"""Offline evaluation speed: the pure-Python TFRecord reader and the step scorer, beside baselines.

- Reading: a GZIP TFRecord of AITW-sized steps (raw 1080x2400x3 screenshots, ~7.8 MB each) read
  with every CRC-32C checked and each Example decoded, beside the same file only gunzipped
  (the floor for any reader of this format).
- CRC-32C: the chunked numpy path beside the plain byte-table loop, on one screenshot's bytes.
- Scoring: AndroidControl-sized predictions (10,000 steps, 2,000 episodes) through the OS-Atlas
  card, split into matching and the 1,000-resample episode bootstrap.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stepgym.episodes.offline import get_card  # noqa: E402
from stepgym.episodes.offline import metrics as M  # noqa: E402
from stepgym.episodes.offline.crc32c import _raw_small, crc32c  # noqa: E402
from stepgym.episodes.offline.dataset import OfflineEpisode  # noqa: E402
from stepgym.episodes.offline.scoring import Prediction, score_step  # noqa: E402
from stepgym.episodes.offline.tfrecord import encode_example, read_examples, write_records  # noqa: E402
from stepgym.episodes.schema import Episode, Step  # noqa: E402


def bench_reading(tmp: Path, steps: int = 12) -> None:
    rng = np.random.default_rng(0)
    shot = rng.integers(0, 256, size=(2400, 1080, 3), dtype=np.uint8)
    shot[:1800] = 40  # screenshots are mostly flat colour: gzip shrinks them as it would the release
    records = [encode_example({"episode_id": "1", "step_id": i, "image/height": 2400, "image/width": 1080,
                               "image/channels": 3, "image/encoded": shot.tobytes(), "results/action_type": 4,
                               "results/yx_touch": [0.5, 0.5], "results/yx_lift": [0.5, 0.5]}) for i in range(steps)]
    path = write_records(tmp / "aitw.tfrecord.gz", records, compress=True)
    raw_mb = sum(len(r) for r in records) / 1e6
    t = time.perf_counter()
    with gzip.open(path, "rb") as f:
        while f.read(1 << 22):
            pass
    gunzip = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(1 for _ in read_examples(path))
    ours = time.perf_counter() - t
    assert n == steps
    print(f"read {steps} AITW-sized steps ({raw_mb:.0f} MB raw, {path.stat().st_size / 1e6:.1f} MB gzipped): "
          f"gunzip only {gunzip:.2f} s, ours (gunzip + CRC + decode) {ours:.2f} s = {ours / gunzip:.2f}x the floor, "
          f"{raw_mb / ours:.0f} MB/s")
    data = shot.tobytes()[:1 << 20]
    t = time.perf_counter()
    a = crc32c(data)
    fast = time.perf_counter() - t
    t = time.perf_counter()
    b = _raw_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    loop = time.perf_counter() - t
    assert a == b
    print(f"CRC-32C of 1 MB: chunked numpy {fast * 1e3:.1f} ms, byte loop {loop * 1e3:.0f} ms ({loop / fast:.0f}x slower)")


def bench_scoring(n_eps: int = 2000, steps: int = 5) -> None:
    card = get_card("androidcontrol", "osatlas")
    params = card.make_params()
    rng = np.random.default_rng(0)
    eps, preds = [], []
    for e in range(n_eps):
        st = []
        for k in range(steps):
            x, y = int(rng.integers(0, 1080)), int(rng.integers(0, 2400))
            gt = {"action_type": "click", "x": x, "y": y} if k % 2 == 0 else {"action_type": "input_text", "text": "hello world"}
            st.append(Step(index=k, observation="", action=json.dumps(gt), parsed_action=gt, screen=[1080, 2400]))
            preds.append({"action_type": "click", "x": x + int(rng.integers(-200, 200)), "y": y}
                         if k % 2 == 0 else {"action_type": "input_text", "text": "hello"})
        eps.append(OfflineEpisode(Episode("androidcontrol", str(e), None, "goal", steps=st, episode_id=str(e))))
    t = time.perf_counter()
    rows, i = [], 0
    for ep in eps:
        for s in ep.episode.steps:
            rows.append(score_step(card, params, ep, s, Prediction(preds[i])))
            i += 1
    match = time.perf_counter() - t
    t = time.perf_counter()
    values, _ = M.compute(card.adapter.metrics(params), rows)
    boot = time.perf_counter() - t
    print(f"scored {len(rows)} AndroidControl steps ({n_eps} episodes): matching {len(rows) / match:,.0f} steps/s; "
          f"metrics with {M.BOOTSTRAP_RESAMPLES} bootstrap resamples {boot:.2f} s (step accuracy {values['step_accuracy']:.3f})")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        bench_reading(Path(d))
    bench_scoring()
