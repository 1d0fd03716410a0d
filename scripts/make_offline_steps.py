"""Record Mobile-v0's oracle on every template and ship its steps as OfflineSteps-v0's default data.

    python scripts/make_offline_steps.py            # writes assets/offline_steps/mobile_oracle.jsonl.gz

Text only (no screenshots, to keep the wheel small): one task per recorded step with the
observation text, the env's action doc, the element boxes and the recorded action. Seeds 0..38
play each template once with parameters drawn from the seed; the element boxes come from
Chromium's layout, so another Chromium version or font may move them by a pixel or two.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stepgym.agents import OraclePolicy  # noqa: E402
from stepgym.envs import EnvPool  # noqa: E402
from stepgym.envs.mobile import TEMPLATES  # noqa: E402
from stepgym.episodes import EpisodeWriter  # noqa: E402
from stepgym.episodes.offline.export import export_steps  # noqa: E402
from stepgym.runner import EpisodeJob, collect_episodes  # noqa: E402


def main(out: Path = ROOT / "assets" / "offline_steps" / "mobile_oracle.jsonl.gz") -> None:
    tmp = Path(tempfile.mkdtemp(prefix="offline-steps-"))
    pool = EnvPool("stepgym/Mobile-v0", num_envs=2, env_kwargs={"image": False})
    try:
        with EpisodeWriter(tmp / "rec") as writer:
            eps = collect_episodes(pool, OraclePolicy(), [EpisodeJob(seed=s) for s in range(len(TEMPLATES))], writer=writer)
    finally:
        pool.close()
    failed = [e.task_id for e in eps if not e.success]
    if failed:
        raise SystemExit(f"the oracle failed on {failed}; not writing {out}")
    path = export_steps(tmp / "rec", tmp / "steps", images=False, test_fraction=0.2)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "rb") as src, gzip.GzipFile(out, "wb", mtime=0) as dst:  # mtime 0: the same bytes each run
        shutil.copyfileobj(src, dst)
    shutil.rmtree(tmp)
    print(f"wrote {sum(1 for _ in gzip.open(out))} steps of {len(eps)} episodes to {out}")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
