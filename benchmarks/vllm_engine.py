"""Rollout engines on the tiny text model: the "vllm" engine against the "hf" engine, tokens/s.

Both sample the same Sokoban prompts (a batch per call, as the trainer does) with the text-only
tiny Qwen2 (hidden 128, 2 layers; vLLM's CPU attention needs head_dim 64) in one process, so the
ratio is measured under the same load. Also timed: starting the vLLM engine, and one weight sync
(the in-memory reload the trainer does after every update). On a CPU this is no speed test: the
CPU build of vLLM is there so the engine's code path runs here; GPU figures come from
scripts/gpu_checks/vllm_engine.sh.

Run: `python benchmarks/vllm_engine.py [--prompts 32] [--max-new-tokens 16] [--calls 5]`. It runs
itself again with the vLLM venv's python (see `stepgym.trainers.vllm_engine.vllm_venv_python`),
and prints "skipped: no vLLM venv" (exit 0) when there is none.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(args) -> dict:
    import torch

    import stepgym
    from stepgym.agents.base import AgentInput
    from stepgym.agents.hf import GenerationSettings, HFPolicy
    from stepgym.agents.prompting import PromptConfig
    from stepgym.agents.tiny import build_tiny_lm
    from stepgym.trainers.engines import HFEngine
    from stepgym.trainers.vllm_engine import VLLMEngine

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="vllm-bench-"))
    policy = HFPolicy(build_tiny_lm(tmp / "lm", seed=0),  # on the GPU when there is one
                      prompt=PromptConfig(history_len=0, include_image=False,
                                          system_prompt="Sokoban. Reply with one move: up, down, left or right."))
    env = stepgym.make("stepgym/Sokoban-v0", image=False)
    inputs = []
    for seed in range(args.prompts):
        obs, info = env.reset(seed=seed)
        inputs.append(AgentInput(env_index=seed, observation=obs, info=info, instruction=info["instruction"],
                                 action_doc=info["action_doc"], history=[]))
    env.close()
    prompts = policy.encode(inputs)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=1.0, seed=0)
    out: dict = {"prompts": len(prompts), "prompt_tokens": sum(len(p.input_ids) for p in prompts),
                 "max_new_tokens": args.max_new_tokens, "calls": args.calls, "torch_threads": args.threads}

    def rate(engine) -> tuple[float, float]:
        engine.generate(prompts, settings, call=-1)  # warm-up
        tokens, t0 = 0, time.perf_counter()
        for call in range(args.calls):
            tokens += sum(len(a.token_ids) for a in engine.generate(prompts, settings, call=call))
        dt = time.perf_counter() - t0
        return tokens / dt, dt / args.calls

    out["hf_tokens_per_s"], out["hf_s_per_call"] = rate(HFEngine(policy))
    t0 = time.perf_counter()
    engine = VLLMEngine(policy, max_model_len=512)
    out["vllm_start_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    engine.sync(policy.model)
    out["vllm_sync_s"] = time.perf_counter() - t0
    out["vllm_tokens_per_s"], out["vllm_s_per_call"] = rate(engine)
    hf_again, _ = rate(HFEngine(policy))  # the HF rate again after vLLM started, for the load drift
    out["hf_tokens_per_s_after"] = hf_again
    out["ratio_vllm_over_hf"] = out["vllm_tokens_per_s"] / ((out["hf_tokens_per_s"] + hf_again) / 2)
    engine.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--calls", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads of the HF engine (vLLM's CPU worker uses 1)")
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inside:
        print("RESULT " + json.dumps(measure(args)))
        return 0
    from stepgym.trainers.vllm_engine import vllm_venv_python

    py = vllm_venv_python(ROOT)
    if py is None:
        print("skipped: no vLLM venv (build one with `make vllm-venv`, or set STEPGYM_VLLM_VENV)")
        return 0
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(args.threads)}
    cmd = [str(py), __file__, "--inside", "--prompts", str(args.prompts), "--max-new-tokens",
           str(args.max_new_tokens), "--calls", str(args.calls), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        print(proc.stdout[-2000:] + proc.stderr[-4000:])
        print(f"FAILED: the vLLM venv's run exited {proc.returncode}")
        return 1
    r = json.loads(lines[-1][len("RESULT "):])
    print(f"{r['prompts']} Sokoban prompts ({r['prompt_tokens'] / r['prompts']:.0f} tokens each), up to "
          f"{r['max_new_tokens']} new tokens, {r['calls']} calls per engine, tiny text Qwen2 on CPU")
    print(f"hf engine:   {r['hf_tokens_per_s']:8.0f} tokens/s ({r['hf_s_per_call']:.3f} s per call; "
          f"{r['hf_tokens_per_s_after']:.0f} tokens/s measured again after vLLM started)")
    print(f"vllm engine: {r['vllm_tokens_per_s']:8.0f} tokens/s ({r['vllm_s_per_call']:.3f} s per call)")
    print(f"ratio vllm / hf: {r['ratio_vllm_over_hf']:.2f}x")
    print(f"vllm engine start {r['vllm_start_s']:.1f} s; one weight sync (in-memory reload) {r['vllm_sync_s'] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
