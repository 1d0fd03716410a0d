from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import stepgym
from stepgym.agents import OraclePolicy, RandomPolicy
from stepgym.envs import EnvPool
from stepgym.episodes import Episode, EpisodeWriter, RecordEpisodes, Step, read_episodes
from stepgym.episodes.export import to_dataset, to_parquet
from stepgym.episodes.viewer import write_report
from stepgym.runner import EpisodeJob, collect_episodes


def _episode(i: int) -> Episode:
    steps = [Step(index=k, observation=f"obs {k} ✓", action="<action>up</action>",
                  parsed_action={"move": "up"}, reward=float(k == 2), terminated=k == 2,
                  state_key=f"s{k}", policy={"model": "tiny", "logprobs": [-0.5, -1.25]})
             for k in range(3)]
    steps[1].action_valid, steps[1].action_error = False, "expected one of up, down"
    return Episode(env_id="stepgym/Sokoban-v0", task_id=f"t{i}", seed=i, instruction="push",
                   steps=steps, total_reward=1.0, success=True, meta={"run": "x"})


def test_write_read_round_trip(tmp_path):
    eps = [_episode(i) for i in range(3)]
    img = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    with EpisodeWriter(tmp_path) as w:
        for e in eps:
            w.write(e, images={0: img})
    back = list(read_episodes(tmp_path))
    assert back == eps
    from PIL import Image
    assert np.array_equal(np.asarray(Image.open(tmp_path / back[0].steps[0].image)), img)


def test_torn_last_line_is_skipped_with_warning(tmp_path):
    with EpisodeWriter(tmp_path) as w:
        w.write(_episode(0))
    with open(tmp_path / "episodes.jsonl", "a") as f:
        f.write('{"env_id": "stepgym/Sokoban-v0", "task_id": "t1", "ste')
    with pytest.warns(UserWarning, match="skipping an unreadable episode line"):
        back = list(read_episodes(tmp_path))
    assert [e.task_id for e in back] == ["t0"]


def test_sigkill_mid_run_leaves_finished_episodes_readable(tmp_path):
    script = textwrap.dedent(f'''
        import sys, numpy as np
        sys.path.insert(0, {os.getcwd()!r})
        from stepgym.episodes import Episode, EpisodeWriter, Step
        w = EpisodeWriter({str(tmp_path)!r})
        big = "x" * 200_000  # large lines make a kill mid-write likely
        i = 0
        while True:
            steps = [Step(index=k, observation=big, action="up") for k in range(5)]
            w.write(Episode("e", f"t{{i}}", i, "go", steps=steps), images={{0: np.zeros((8, 8, 3), np.uint8)}})
            i += 1
            print(i, flush=True)
    ''')
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for _ in range(20):  # let it finish some episodes
        proc.stdout.readline()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with _maybe_warns():
        back = list(read_episodes(tmp_path))
    assert len(back) >= 20
    assert [e.task_id for e in back] == [f"t{i}" for i in range(len(back))]
    assert all(len(e.steps) == 5 and len(e.steps[0].observation) == 200_000 for e in back)


class _maybe_warns:
    """A torn line may or may not exist, depending on where the kill landed."""

    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)


def test_record_wrapper(tmp_path):
    env = RecordEpisodes(stepgym.make("stepgym/Sokoban-v0"), tmp_path, policy_meta={"name": "oracle"})
    first_keys = []
    for seed in (0, 1):
        obs, info = env.reset(seed=seed)
        first_keys.append(info["state_key"])
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(env.unwrapped.oracle_action())
            done = term or trunc
    env.close()
    eps = list(read_episodes(tmp_path))
    assert len(eps) == 2 and all(e.success for e in eps)
    assert [e.steps[0].state_key for e in eps] == first_keys
    assert eps[0].steps[-1].reward == 1.0 and eps[0].total_reward == 1.0
    assert all((tmp_path / s.image).exists() for s in eps[0].steps)
    assert eps[0].steps[0].policy == {"name": "oracle"}


def test_collect_records_oracle_and_random(tmp_path):
    pool = EnvPool("stepgym/Sokoban-v0", num_envs=3)
    jobs = [EpisodeJob(seed=i) for i in range(7)]
    with EpisodeWriter(tmp_path / "o") as w:
        eps = collect_episodes(pool, OraclePolicy(), jobs, writer=w)
    assert [e.seed for e in eps] == list(range(7))
    assert all(e.success for e in eps)
    rand = collect_episodes(pool, RandomPolicy(seed=0), jobs)
    assert sum(e.success for e in rand) < 7
    assert any(not s.action_valid for e in rand for s in e.steps)  # junk actions happen
    assert sorted(read_episodes(tmp_path / "o"), key=lambda e: e.seed) == eps  # file: finish order
    pool.close()


def test_export_parquet_and_dataset(tmp_path):
    with EpisodeWriter(tmp_path) as w:
        for i in range(2):
            w.write(_episode(i))
    import pyarrow.parquet as pq
    table = pq.read_table(to_parquet(tmp_path, tmp_path / "steps.parquet"))
    assert table.num_rows == 6
    ds = to_dataset(tmp_path)
    assert len(ds) == 6 and ds[1]["action_valid"] is False
    assert json.loads(ds[0]["policy"])["logprobs"] == [-0.5, -1.25]


def test_viewer_writes_html(tmp_path):
    with EpisodeWriter(tmp_path) as w:
        w.write(_episode(0), images={0: np.zeros((4, 4, 3), np.uint8)})
    html = write_report(tmp_path).read_text()
    assert "t0" in html and "expected one of up, down" in html and "media/" in html


def test_missing_directory_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="record with --record"):
        list(read_episodes(tmp_path / "nope"))


def test_paired_difference_matches_by_task_and_seed():
    from stepgym.episodes.evaluate import paired_difference
    from stepgym.records import Episode

    def eps(successes):
        return [Episode("e", f"t{i}", i, "go", success=bool(s)) for i, s in enumerate(successes)]

    # B wins 3 pairs A lost, loses 1 A won, agrees on 6: difference 2/10
    a = eps([0, 0, 0, 1, 1, 1, 0, 0, 0, 1])
    b = eps([1, 1, 1, 0, 1, 1, 0, 0, 0, 1])
    d = paired_difference(a, list(reversed(b)))  # order does not matter, the (task, seed) pairs do
    assert (d.pairs, d.a_only, d.b_only) == (10, 1, 3)
    assert abs(d.difference - 0.2) < 1e-12
    diffs = [1, 1, 1, -1, 0, 0, 0, 0, 0, 0]
    sd = (sum((x - 0.2) ** 2 for x in diffs) / 9) ** 0.5
    assert abs(d.ci[1] - (0.2 + 1.96 * sd / 10 ** 0.5)) < 1e-12
    import pytest

    with pytest.raises(ValueError, match="no \\(task_id, seed\\) pair"):
        paired_difference(a, [Episode("e", "other", 99, "go")])
