"""Shared fixtures of the offline-evaluation tests: oracle recordings of Mobile-v0 in a real Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import fixtures`

#: Mobile-v0 seeds (seed s plays template s mod 39): a long press; a scroll, long press and clicks;
#: a click and typing; a toggle
RECORDED_SEEDS = (2, 12, 21, 8)


@pytest.fixture(scope="session")
def mobile_recording(tmp_path_factory) -> Path:
    """A directory of Mobile-v0 oracle episodes recorded through the real env."""
    from stepgym.agents import OraclePolicy
    from stepgym.envs import EnvPool
    from stepgym.episodes import EpisodeWriter
    from stepgym.runner import EpisodeJob, collect_episodes

    out = tmp_path_factory.mktemp("mobile-oracle")
    pool = EnvPool("stepgym/Mobile-v0", num_envs=1)
    try:
        with EpisodeWriter(out) as writer:
            eps = collect_episodes(pool, OraclePolicy(), [EpisodeJob(seed=s) for s in RECORDED_SEEDS], writer=writer)
    finally:
        pool.close()
    assert all(e.success for e in eps), [e.task_id for e in eps if not e.success]
    return out
