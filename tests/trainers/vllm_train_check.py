"""Run by tests/trainers/test_vllm_engine.py with the vLLM venv's python: two RL iterations on
Sokoban with the "vllm" rollout engine and a text-only tiny Qwen2, checking after each update that
the weights vLLM samples with are the trainer's. Writes OUT_DIR/result.json.
    PYTHONPATH=. .vllm-venv/bin/python tests/trainers/vllm_train_check.py OUT_DIR
With --multimodal (scripts/gpu_checks/vllm_engine.sh, on a GPU) the envs show images and the model
is a Qwen2.5-VL: a tiny random one, or the checkpoint directory given with --model.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from stepgym.agents.base import AgentInput
from stepgym.agents.hf import GenerationSettings, sequence_logprobs
from stepgym.agents.tiny import build_tiny_lm
from stepgym.trainers.config import TrainConfig
from stepgym.trainers.trainer import Trainer

# vLLM fuses these projections into one parameter, in this order
_STACKED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}


def config(out: Path, multimodal: bool = False, model: str | None = None) -> TrainConfig:
    kw = dict(model=str(build_tiny_lm(out / "lm", seed=0)), rollout_engine_kwargs={"max_model_len": 512},
              env_kwargs={"image": False, "max_steps": 6}, torch_threads=1)
    if multimodal:  # head_dim 32 (tiny:small): the GPU attention backends take it, 16 and 24 they may not
        kw = dict(model=model or "tiny:small", include_image=True,
                  rollout_engine_kwargs={"max_model_len": 4096, "gpu_memory_utilization": 0.3},
                  env_kwargs={"image": True, "max_steps": 6})
    return TrainConfig(
        run_dir=str(out / "run"), rollout_engine="vllm", old_logprobs="recompute", importance_cap=2.0,
        sft_episodes=12, sft_epochs=3, sft_batch_size=16, before_sft_eval_tasks=0, iterations=2,
        tasks_per_iteration=2, group_size=4, num_envs=8, eval_tasks=4, eval_every=2, max_new_tokens=3,
        minibatch_size=16, system_prompt="Sokoban. Reply with a move.", lr=1e-3, **kw)


def dense_weight_gap(engine, model) -> tuple[float, int, int]:
    """Largest |vLLM - trainer| over the parameters vLLM keeps in checkpoint layout (the CPU build
    repacks linear weights into its kernel layout and leaves an empty tensor), and how many tensors
    were compared out of how many vLLM holds."""
    theirs = engine.llm.apply_model(lambda m: {n: p.detach().clone() for n, p in m.named_parameters()})[0]
    ours = model.state_dict()
    gap, compared = 0.0, 0
    for name, t in theirs.items():
        if t.numel() == 0:
            continue
        parent, _, leaf = name.rpartition(".")
        module, _, kind = parent.rpartition(".")
        if kind in _STACKED:
            expected = torch.cat([ours[f"{module}.{part}.{leaf}"] for part in _STACKED[kind]])
        else:
            expected = ours[name]
        if t.shape[0] > expected.shape[0] and t.shape[1:] == expected.shape[1:]:
            t = t[: expected.shape[0]]  # vLLM pads the vocabulary rows of embed_tokens / lm_head
        gap = max(gap, float((t - expected).abs().max()))
        compared += 1
    return gap, compared, len(theirs)


def probe(trainer: Trainer):
    """A fixed set of prompts (Sokoban resets) and responses sampled by the engine for them."""
    import stepgym

    env = stepgym.make(trainer.cfg.env_id, **trainer.cfg.env_kwargs)
    inputs = []
    for seed in range(6):
        obs, info = env.reset(seed=seed)
        inputs.append(AgentInput(env_index=0, observation=obs, info=info, instruction=info["instruction"],
                                 action_doc=info["action_doc"], history=[]))
    env.close()
    prompts = trainer.policy.encode(inputs)
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=123)
    return prompts, settings


def main(out: Path, multimodal: bool = False, model: str | None = None) -> None:
    trainer = Trainer(config(out, multimodal, model), progress=False)
    engine = trainer.engine
    result = {"in_process": engine.in_process, "multimodal": multimodal, "iterations": []}
    trainer.run(stop_after=0)  # SFT, and its evaluation sampled through vLLM
    prompts, settings = probe(trainer)
    for it in range(trainer.cfg.iterations):
        before = copy.deepcopy(trainer.policy.model)
        metrics = trainer.iteration(it)
        synced = trainer.synced_engine()  # what the next rollout samples with
        model = trainer.policy.model
        moved = max(float((a - b).abs().max()) for a, b in zip(model.state_dict().values(), before.state_dict().values()))
        # Qwen2.5-VL's names differ between the two (and vLLM's vision tower goes unused): the
        # log-prob checks below cover it
        gap, compared, held = (None, 0, 0) if multimodal else dense_weight_gap(synced, model)
        actions = synced.generate(prompts, settings, call=it)
        responses = [a.token_ids for a in actions]
        device = next(model.parameters()).device
        on = [p.to(device) for p in prompts]
        with torch.no_grad():
            ours = [lp.tolist() for lp in sequence_logprobs(model, on, responses, pad_id=trainer.policy.pad_id)[0]]
            stale = [lp.tolist() for lp in sequence_logprobs(before, on, responses, pad_id=trainer.policy.pad_id)[0]]
        teacher = synced.score(prompts, responses)

        def worst(a, b):
                return max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))

        again = synced.generate(prompts, settings, call=it)
        result["iterations"].append({
            "rows_trained": metrics["rows_trained"], "logprob_mismatch": metrics.get("logprob_mismatch"),
            "logprob_mismatch_max": metrics.get("logprob_mismatch_max"), "is_weight_max": metrics.get("is_weight_max"),
            "weights_moved": moved, "dense_weight_gap": gap, "dense_compared": compared, "params_held": held,
            "sampled_vs_trainer": worst([a.logprobs for a in actions], ours),
            "sampled_vs_stale": worst([a.logprobs for a in actions], stale),
            "teacher_forced_vs_trainer": worst(teacher, ours),
            "repeat_same_tokens": [a.token_ids for a in again] == responses,
            "repeat_same_logprobs": [a.logprobs for a in again] == [a.logprobs for a in actions],
            "finish_reasons": sorted({a.meta["finish_reason"] for a in actions}),
            "ends_with_eos": all(a.token_ids[-1] in trainer.policy.eos_ids for a in actions
                                 if a.meta["finish_reason"] == "stop"),
        })
    result["syncs"] = engine.syncs
    result["eval"] = trainer.state["eval"]
    trainer.close()
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":  # vLLM may start engine processes: the guard keeps them from re-running this
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--multimodal", action="store_true")
    ap.add_argument("--model", default=None, help="with --multimodal: a Qwen2.5-VL checkpoint directory")
    a = ap.parse_args()
    main(a.out, a.multimodal, a.model)
