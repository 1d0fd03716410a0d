"""The demo's promise, checked end to end on a seed the benchmark does not use (slow: about 10
minutes on 2 cores)."""

from __future__ import annotations

import json

import pytest

from stepgym.trainers.config import preset
from stepgym.trainers.trainer import Trainer

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_demo_rl_beats_its_sft_start_on_held_out_levels(tmp_path):
    # benchmarks/demo_seeds.py measures seeds 0-2 at 1 and 2 threads; this is an extra seed
    cfg = preset("sokoban-gigpo-tiny", run_dir=str(tmp_path), seed=3, torch_threads=2)
    trainer = Trainer(cfg, progress=False)
    try:
        results = trainer.run()
    finally:
        trainer.close()
    assert results["before_sft"] < results["after_sft"]
    records = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    final = [m for m in records if m["phase"] == "eval" and "gain_vs_sft" in m][-1]
    assert final["eval_episodes"] == 500
    # paired over the same 500 held-out levels and seeds. The target (>= 10 points) is not
    # met by this recipe (README, "Training": +3 to +7 points over seeds 0-2); what it does hold
    # is that RL ends above its SFT start and no worse than the noise of the comparison allows
    assert final["gain_vs_sft"] > 0, final
    assert final["gain_ci"][1] > 0.02, final
    rl = [m for m in records if m["phase"] == "rl"]
    assert rl[-1]["entropy"] < rl[0]["entropy"] + 0.05  # no entropy blow-up (the old failure mode)
    assert max(m["invalid_action_rate"] for m in rl) < 0.1  # no drift into unparseable moves
