"""`stepgym eval` end to end: the oracle solves Sokoban; a tiny HF model runs and records episodes."""

from __future__ import annotations

import json

import pytest

from stepgym.agents import make_policy
from stepgym.cli import main
from stepgym.episodes import read_episodes


def _summary(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_oracle_solves_sokoban(capsys):
    assert main(["eval", "stepgym/Sokoban-v0", "--policy", "oracle", "--episodes", "6", "--json"]) == 0
    s = _summary(capsys)
    assert s["episodes"] == 6 and s["success_rate"] == 1.0 and s["invalid_action_rate"] == 0.0


def test_eval_tiny_hf_model_records_episodes(tiny_dir, tmp_path, capsys):
    out = tmp_path / "rec"
    spec = f"hf:{tiny_dir}?max_new_tokens=6&history_len=2"
    assert main(["eval", "stepgym/Sokoban-v0", "--policy", spec, "--episodes", "3", "--num-envs", "3",
                 "--env-kwargs", '{"max_steps": 3}', "--record", str(out), "--json"]) == 0
    s = _summary(capsys)
    assert s["episodes"] == 3 and 0 <= s["success_rate"] <= 1
    episodes = list(read_episodes(out))
    assert len(episodes) == 3 and all(e.num_steps == 3 for e in episodes)
    meta = episodes[0].meta["policy"]
    assert meta["name"] == "hf" and meta["model"] == str(tiny_dir) and meta["sampling"]["max_new_tokens"] == 6
    for step in episodes[0].steps:
        assert 1 <= len(step.policy["token_ids"]) <= 6
        assert len(step.policy["logprobs"]) == len(step.policy["token_ids"])
        assert (out / step.image).is_file()


def test_policy_specs_are_checked(tiny_dir):
    with pytest.raises(ValueError, match="unknown policy 'gpt'"):
        make_policy("gpt")
    with pytest.raises(ValueError, match=r"unknown options for hf: \['colour'\]"):
        make_policy(f"hf:{tiny_dir}?colour=red")
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        make_policy(f"hf:{tiny_dir}?temperature=-2")
    policy = make_policy(f"hf:{tiny_dir}?temperature=0&history_mode=conversation&max_history_images=0", seed=5)
    assert policy.config.temperature == 0 and policy.config.seed == 5
    assert policy.prompt.history_mode == "conversation" and policy.prompt.max_history_images == 0


def test_vllm_spec_without_vllm_says_how_to_install(tiny_dir):
    pytest.importorskip("transformers")
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'stepgym\[vllm\]'"):
            make_policy(f"vllm:{tiny_dir}")
    else:
        pytest.skip("vllm is installed here; tests/agents/test_vllm_backend.py covers it")
