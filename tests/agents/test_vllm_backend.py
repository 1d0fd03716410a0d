"""vLLM backend against the HF backend on a tiny model. Skipped where vllm is not installed
(the default suite); `make test-vllm` runs it in its own venv with the vLLM CPU build."""

from __future__ import annotations

import pytest
from _agent_inputs import sokoban_inputs

vllm = pytest.importorskip("vllm")

from stepgym.agents.hf import GenerationSettings, HFPolicy  # noqa: E402
from stepgym.agents.tiny import build_tiny_vlm  # noqa: E402
from stepgym.agents.vllm_backend import VLLMPolicy  # noqa: E402


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory):
    # "small": head_dim 32, which vLLM's CPU attention kernels support (the "tiny" 16 is not)
    return build_tiny_vlm(tmp_path_factory.mktemp("small") / "small-vlm", size="small", seed=0)


def test_vllm_greedy_matches_hf(small_dir):
    inputs = sokoban_inputs(3)
    inputs[1].observation = {"text": inputs[1].observation["text"]}  # text-only row
    settings = GenerationSettings(max_new_tokens=8, temperature=0)
    hf = HFPolicy(small_dir, config=settings, device="cpu").act(inputs)
    engine = VLLMPolicy(small_dir, config=settings, dtype="float32", max_model_len=2048,
                        enforce_eager=True)
    out = engine.act(inputs)
    for a, b in zip(hf, out, strict=True):
        assert b.prompt_ids == a.prompt_ids
        assert b.token_ids == a.token_ids
        assert b.logprobs == pytest.approx(a.logprobs, abs=2e-3)
