"""Estimators, losses and rollout strategies are chosen by name in one place; unknown names fail usefully."""

from __future__ import annotations

import numpy as np
import pytest

from stepgym.trainers.config import TrainConfig
from stepgym.trainers.engines import ENGINES
from stepgym.trainers.estimators import ESTIMATORS
from stepgym.trainers.losses import LOSSES
from stepgym.trainers.registry import Registry
from stepgym.trainers.strategy import ROLLOUTS
from stepgym.trainers.trainer import Trainer


def test_built_in_names():
    assert ESTIMATORS.names() == ["arpo_hard", "gigpo", "grpo", "rloo"]
    assert LOSSES.names() == ["dapo", "dr_grpo", "gspo", "ppo"]
    assert "groups" in ROLLOUTS and "branching" in ROLLOUTS
    assert "GSPO" in LOSSES.describe("gspo") and "GiGPO" in ESTIMATORS.describe("gigpo")


@pytest.mark.parametrize("field, registry", [("estimator", ESTIMATORS), ("loss", LOSSES), ("rollout", ROLLOUTS),
                                             ("rollout_engine", ENGINES)])
def test_unknown_names_fail_before_any_work_with_the_known_ones(tmp_path, field, registry):
    cfg = TrainConfig(run_dir=str(tmp_path / "run"), **{field: "nope"})
    with pytest.raises(ValueError, match=f"unknown .*'nope'; known: {', '.join(registry.names())}"):
        Trainer(cfg, progress=False)
    assert not (tmp_path / "run").exists()  # failed before building a model or a pool


def test_close_names_are_suggested():
    with pytest.raises(ValueError, match="Did you mean 'gigpo'"):
        ESTIMATORS.get("gipgo")


def test_registering_twice_fails_unless_overwritten():
    reg: Registry = Registry("thing")
    reg.register("a")(len)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(max)
    reg.register("a", overwrite=True)(max)
    assert reg.get("a") is max


def test_a_new_estimator_is_one_function_and_one_line(tmp_path):
    @ESTIMATORS.register("zeros-for-test")
    def zeros(batch, cfg):
        """All advantages zero."""
        return np.zeros(batch.num_steps)

    try:
        assert ESTIMATORS.get("zeros-for-test") is zeros
        assert TrainConfig(estimator="zeros-for-test").estimator == "zeros-for-test"
    finally:
        ESTIMATORS.unregister("zeros-for-test")
    assert "zeros-for-test" not in ESTIMATORS
