"""Train a tiny model on stepgym/Sokoban-v0 with TRL's GRPOTrainer, on CPU, in about a minute.

    python examples/trl_grpo_sokoban.py --out runs/trl-sokoban [--steps 20]
    stepgym view runs/trl-sokoban/episodes          # every training episode, step by step

What a TRL user adds to their own GRPOTrainer script is the three marked lines: the dataset of
episodes, `rollout_func=StepgymRollout(...)` and the env's reward functions. The rest builds an
offline tiny model (random weights, stepgym's tokenizer) and warm-starts it on a few oracle moves
so that its first GRPO groups contain valid moves; with a real model (e.g. Qwen2.5-1.5B-Instruct)
skip the warm start and set `use_vllm=True` (see the README, "Train with TRL / verl / OpenEnv").
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

ENV_ID = "stepgym/Sokoban-v0"


def warm_start(model, tok, *, episodes: int = 32, steps: int = 30, lr: float = 3e-3, seed: int = 0) -> float:
    """Behaviour-clone the oracle's first move on `episodes` training levels; returns the last loss.

    Only the reply's tokens (`<action>move</action>` and the end-of-turn token) carry the loss.
    """
    import torch

    from stepgym.integrations.episode import EnvEpisode
    from stepgym.integrations.trl import first_messages

    ep = EnvEpisode(ENV_ID)
    rows = []
    for i in range(episodes):
        ep.reset(seed=10_000 + seed * episodes + i)  # other seeds than the GRPO dataset's
        prompt = tok.apply_chat_template(first_messages(ep), add_generation_prompt=True,
                                         tokenize=True, return_dict=False)
        reply = tok(f"<action>{ep.env.unwrapped.oracle_action()}</action>{tok.eos_token}",
                    add_special_tokens=False)["input_ids"]
        rows.append((list(prompt), list(reply)))
    ep.close()
    torch.manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    loss = torch.tensor(0.0)
    for step in range(steps):
        batch = [rows[(step * 8 + k) % len(rows)] for k in range(8)]
        width = max(len(p) + len(r) for p, r in batch)
        ids = torch.full((len(batch), width), tok.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for b, (p, r) in enumerate(batch):
            seq = p + r
            ids[b, :len(seq)] = torch.tensor(seq)
            labels[b, len(p):len(seq)] = torch.tensor(r)
            mask[b, :len(seq)] = 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    return float(loss.detach())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/trl-sokoban")
    p.add_argument("--steps", type=int, default=20, help="GRPO steps")
    p.add_argument("--episodes", type=int, default=64, help="episodes in the training dataset")
    p.add_argument("--warm-start-steps", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from stepgym.agents.tiny import build_tiny_lm
    from stepgym.integrations.trl import (
        StepgymRollout,
        env_reward,
        episode_dataset,
        invalid_action_penalty,
    )

    out = Path(args.out)
    model_dir = build_tiny_lm(out / "model", seed=args.seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(model_dir)
    sft_loss = warm_start(model, tok, steps=args.warm_start_steps, seed=args.seed)

    config = GRPOConfig(
        output_dir=str(out / "trl"), max_steps=args.steps, per_device_train_batch_size=8,
        num_generations=4, max_completion_length=320, temperature=1.0, learning_rate=1e-3,
        beta=0.0, bf16=False, use_cpu=True, gradient_checkpointing=False, logging_steps=1,
        report_to="none", save_strategy="no", seed=args.seed,
    )
    trainer = GRPOTrainer(
        model=model, processing_class=tok, args=config,
        train_dataset=episode_dataset(ENV_ID, args.episodes, seed=args.seed),           # <- 1
        rollout_func=StepgymRollout(max_turn_tokens=12, record_dir=out / "episodes"),  # <- 2
        reward_funcs=[env_reward, invalid_action_penalty],                              # <- 3
    )
    trainer.train()
    logs = [r for r in trainer.state.log_history if "reward" in r]
    summary = {
        "warm_start_loss": round(sft_loss, 4), "steps": len(logs),
        "env_reward": [round(r["rewards/env_reward/mean"], 3) for r in logs],
        "invalid_penalty": [round(r["rewards/invalid_action_penalty/mean"], 3) for r in logs],
        "episodes_recorded": sum(1 for _ in open(out / "episodes" / "episodes.jsonl")),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    print(f"episodes: stepgym view {out / 'episodes'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
