"""Fixtures of the integration tests: one tiny text model per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from stepgym.agents.tiny import build_tiny_lm

    return build_tiny_lm(tmp_path_factory.mktemp("tiny") / "tiny-lm", seed=0)


@pytest.fixture()
def tiny_lm(tiny_lm_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return (AutoModelForCausalLM.from_pretrained(tiny_lm_dir).eval(),
            AutoTokenizer.from_pretrained(tiny_lm_dir))
