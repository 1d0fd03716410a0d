"""verl 0.9.1 on CPU: GiGPO on verl's DataProto, and the agent loop against a generation-server stub.

verl cannot generate or train without GPUs (rollout needs vLLM/SGLang, workers need Ray and CUDA),
so the server manager here is a stub whose `generate` runs the tiny model with transformers: the
only fake, standing in for the GPU server. `scripts/gpu_checks/verl.sh` runs a real verl job.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("verl", reason="verl is not installed (pip install --no-deps verl==0.9.1; see Makefile)")
pytest.importorskip("tensordict", reason="tensordict is not installed (verl's DataProto needs it)")

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402
from verl.experimental.agent_loop.agent_loop import DictConfigWrap, _agent_loop_registry  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.workers.rollout.replica import TokenOutput  # noqa: E402

from stepgym.integrations.episode import EnvEpisode  # noqa: E402
from stepgym.integrations.verl import StepgymAgentLoop, gigpo_batch_advantages, write_dataset  # noqa: E402
from stepgym.trainers.advantages import gigpo_advantages  # noqa: E402


def _run(coro):
    """`asyncio.run` in a thread of its own: verl's agent loop runs in a fresh event loop even when
    this test process's thread still holds one (Playwright's sync API, left by an earlier test)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as ex:
        return ex.submit(asyncio.run, coro).result()


def _rows(seed: int = 0):
    """Step rows of 2 prompt groups x 3 trajectories with shared states, shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(2):
        for t in range(3):
            n = int(rng.integers(2, 5))
            for s in range(n):
                rows.append({"uid": f"u{g}", "trajectory": f"u{g}-t{t}", "step": s,
                             "state_key": f"s{int(rng.integers(0, 3))}", "reward": float(rng.random() < 0.3)})
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("normalize,weighting", [("mean", "step"), ("mean_std", "trajectory")])
def test_gigpo_on_verl_batch_equals_gigpo_advantages(normalize, weighting):
    rows = _rows()
    lengths = [3 + i % 4 for i in range(len(rows))]
    mask = torch.zeros(len(rows), 6, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    data = DataProto.from_dict(
        tensors={"response_mask": mask},
        non_tensors={"uid": np.array([r["uid"] for r in rows], dtype=object),
                     "extra_fields": np.array([{"stepgym": r} for r in rows], dtype=object)})
    got = gigpo_batch_advantages(data, normalize=normalize, episode_weighting=weighting)

    order = sorted(range(len(rows)), key=lambda i: (rows[i]["trajectory"], rows[i]["step"]))
    want = gigpo_advantages(np.array([rows[i]["reward"] for i in order]), [rows[i]["trajectory"] for i in order],
                            [rows[i]["uid"] for i in order], [rows[i]["state_key"] for i in order],
                            normalize=normalize, episode_weighting=weighting)
    for k, i in enumerate(order):
        assert torch.allclose(got[i, :lengths[i]], torch.full((lengths[i],), want[k], dtype=torch.float32))
        assert torch.all(got[i, lengths[i]:] == 0)  # nothing on padding
    assert np.abs(want).sum() > 0


def test_gigpo_batch_names_rows_without_stepgym_fields():
    data = DataProto.from_dict(tensors={"response_mask": torch.ones(1, 2, dtype=torch.long)},
                               non_tensors={"uid": np.array(["u"], dtype=object),
                                            "extra_fields": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="StepgymAgentLoop"):
        gigpo_batch_advantages(data)


class TinyServer:
    """Stand-in for verl's GPU generation server: samples from the tiny model with transformers."""

    def __init__(self, model, eos_id: int, max_new_tokens: int = 12) -> None:
        self.model, self.eos_id, self.max_new_tokens = model, eos_id, max_new_tokens
        self.calls: list[list[int]] = []

    async def generate(self, *, request_id, prompt_ids, sampling_params, image_data=None, **kw) -> TokenOutput:
        self.calls.append(list(prompt_ids))
        ids = torch.tensor([prompt_ids])
        with torch.no_grad():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True,
                                      max_new_tokens=self.max_new_tokens, temperature=1.0,
                                      output_scores=True, return_dict_in_generate=True)
        new = out.sequences[0, ids.shape[1]:].tolist()
        if self.eos_id in new:
            new = new[: new.index(self.eos_id) + 1]
        logps = [float(torch.log_softmax(s[0], -1)[t]) for s, t in zip(out.scores, new)]
        return TokenOutput(token_ids=new, log_probs=logps, stop_reason="completed")


def test_agent_loop_plays_env_steps_as_rows(tiny_lm):
    model, tok = tiny_lm
    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 1024, "response_length": 16}}})
    server = TinyServer(model, tok.eos_token_id)
    assert _agent_loop_registry["stepgym"]["_target_"] == "stepgym.integrations.verl.StepgymAgentLoop"

    async def play():
        # AgentLoopBase captures the running event loop, so it is built inside it (as verl's workers do)
        loop = StepgymAgentLoop(DictConfigWrap(config), server, tok, None, None,
                                DictConfigWrap(OmegaConf.create({})), max_turns=3)
        return await loop.run({"temperature": 1.0}, extra_info={"env_id": "stepgym/Sokoban-v0", "seed": 5},
                              uid="u0", session_id=0)

    torch.manual_seed(0)
    outputs = _run(play())
    assert len(outputs) == 3 == len(server.calls)
    # replay the decoded actions in a fresh env: rewards and state keys are the env's
    ref = EnvEpisode("stepgym/Sokoban-v0")
    ref.reset(seed=5)
    for t, out in enumerate(outputs):
        meta = out.extra_fields["stepgym"]
        assert out.prompt_ids == server.calls[t]                     # the prompt it was sampled from
        assert out.response_mask == [1] * len(out.response_ids)
        assert len(out.response_logprobs) == len(out.response_ids)
        assert meta["state_key"] == ref.last.state_key and meta["step"] == t
        turn = ref.step(tok.decode(out.response_ids, skip_special_tokens=True))
        assert meta["reward"] == turn.reward and meta["action_valid"] == turn.action_valid
        assert out.reward_score == sum(o.extra_fields["stepgym"]["reward"] for o in outputs)
        assert out.extra_fields["reward_extra_info"] == {}
    assert len({o.extra_fields["stepgym"]["trajectory"] for o in outputs}) == 1
    assert "Sokoban" in tok.decode(outputs[0].prompt_ids) or "box" in tok.decode(outputs[0].prompt_ids)


def test_agent_loop_without_env_id_says_what_is_missing(tiny_lm):
    model, tok = tiny_lm
    config = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 64, "response_length": 8}}})

    async def play():
        loop = StepgymAgentLoop(DictConfigWrap(config), TinyServer(model, tok.eos_token_id), tok, None, None,
                                DictConfigWrap(OmegaConf.create({})))
        return await loop.run({}, extra_info={})

    with pytest.raises(ValueError, match="env_id"):
        _run(play())


def test_dataset_rows_name_the_agent_loop(tmp_path):
    import pandas as pd

    path = write_dataset("stepgym/Sokoban-v0", 3, tmp_path / "train.parquet", seed=7)
    df = pd.read_parquet(path)
    assert list(df["agent_name"]) == ["stepgym"] * 3
    assert [e["seed"] for e in df["extra_info"]] == [7, 8, 9]
