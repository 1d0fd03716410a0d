"""Hugging Face transformers backend: batched sampling with token ids and log-probs, for eval and RL.

The trainer's entry points:

- `HFPolicy.act(inputs)` samples one action per input and returns `AgentAction`s with
  `prompt_ids` (the prompt's token ids, no padding), `token_ids` (the generated ids, no padding,
  ending with the EOS / `<|im_end|>` token when one was produced) and `logprobs`.
- `HFPolicy.encode(inputs)` gives each prompt's exact model inputs (`PromptInputs`) — what `act`
  fed the model — so the trainer can score the same tokens again; `act` also hands them back on
  each action (`AgentAction.prompt_inputs`), so nothing needs re-encoding.
- `sequence_logprobs(model, prompts, responses)` runs a teacher-forced forward pass (batched, left
  padded) and returns each response token's log-prob, differentiable, optionally with entropies.

Which log-probs: `logprobs[t] = log_softmax(raw_logits_t)[token_t]`, the log-probability of the
sampled token under the *unmodified* model distribution (temperature 1, no top-p / top-k), i.e.
log π_old(token) as PPO/GRPO ratios need — even when sampling used another temperature or top-p.
(Vision placeholder tokens such as <|image_pad|> are never sampled — see `HFPolicy.suppressed_ids` —
but the log-probs stay those of the unmodified distribution.)
`sequence_logprobs` computes exactly the same quantity, so in eval mode and float32 the two agree
to ~1e-5.

Token-exact conversations (`PromptConfig.token_exact`): the prompt of step t is the prompt of step
t-1, the ids it generated (its EOS included) and the new turn's ids, cut from the chat template's
rendering of that turn, so no earlier action is re-tokenised from text. `conversation_sequence`
gives such an episode as one sequence with the span of each step's generated ids (a multi-turn
loss mask); earlier turns' images stay in the prompt.

Each action's `meta` also holds the uncertainty ARPO branches on, from the same raw logits:
`entropy` is the mean over its first `ENTROPY_TOKENS` (20) generated tokens of the full
next-token distribution's entropy, in nats, and `entropy_norm` that divided by log|V| (in [0, 1]).
(ARPO's released code sums the top-10 partial entropies of those tokens before dividing by
log|V|; a mean does not grow with the segment's length.)
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from stepgym.agents.base import AgentAction, AgentInput, Policy
from stepgym.agents.prompting import (
    PromptConfig,
    build_messages,
    system_message,
    turn_messages,
    vision_inputs,
)
from stepgym.agents.sampling import GenerationSettings

ENTROPY_TOKENS = 20  # ARPO measures a segment's uncertainty on its first 20 generated tokens
_VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


@dataclass
class PromptInputs:
    """The exact model inputs of one prompt (no batch dimension on input_ids, no padding)."""

    input_ids: torch.Tensor  # [L] int64
    mm_token_type_ids: torch.Tensor | None = None  # [L] 0 text, 1 image, 2 video
    pixel_values: torch.Tensor | None = None  # [num_patches, C*T*P*P] of this prompt's images
    image_grid_thw: torch.Tensor | None = None  # [num_images, 3]
    pixel_values_videos: torch.Tensor | None = None  # [num_patches, C*T*P*P] of its videos
    video_grid_thw: torch.Tensor | None = None  # [num_videos, 3]
    second_per_grid_ts: torch.Tensor | None = None  # [num_videos]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[int]:
        return self.input_ids.tolist()

    def to(self, device: torch.device | str) -> PromptInputs:
        """A copy with every tensor on `device`."""
        moved = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return PromptInputs(**moved)


def encode_messages(processor, messages: list[dict[str, Any]]) -> PromptInputs:
    """`PromptInputs` of one chat (Qwen-VL messages): chat template + qwen-vl-utils + processor."""
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    images, videos, video_kwargs = vision_inputs(messages)
    kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
    if images:
        kwargs["images"] = images
    if videos:
        kwargs["videos"] = videos
        kwargs.update(video_kwargs)
    if hasattr(processor, "image_processor"):
        batch = processor(**kwargs)
    else:  # a text-only model: a plain tokenizer
        batch = processor(text=[text], return_tensors="pt")
    return _from_processor(batch)


def _from_processor(batch) -> PromptInputs:
    """`PromptInputs` of a processor's output for one text."""
    out = PromptInputs(input_ids=batch["input_ids"][0])
    if "mm_token_type_ids" in batch:
        out.mm_token_type_ids = batch["mm_token_type_ids"][0]
    for key in _VISION_KEYS:
        if key in batch and batch[key] is not None:
            value = batch[key]
            setattr(out, key, value if isinstance(value, torch.Tensor) else torch.tensor(value))
    return out


def _image_digest(image: Any) -> str:
    if image is None:
        return ""
    import numpy as np

    return hashlib.blake2b(np.asarray(image).tobytes(), digest_size=8).hexdigest()


def _conversation_key(inp: AgentInput, steps: int | None = None) -> tuple:
    """What identifies a conversation up to a step: the task, each earlier step's observation and
    the ids it generated, and the observation of the step itself (`steps` earlier steps; default all)."""
    n = len(inp.history) if steps is None else steps
    images = list(inp.history_images) + [None] * (len(inp.history) - len(inp.history_images))
    past = tuple((s.observation, s.action, tuple((s.policy or {}).get("token_ids") or ()), _image_digest(images[i]))
                 for i, s in enumerate(inp.history[:n]))
    if n == len(inp.history):
        current = (inp.observation.get("text", ""), _image_digest(inp.observation.get("image")))
    else:
        current = (inp.history[n].observation, _image_digest(images[n]))
    return (inp.instruction, past, current)


def _has_vision(messages: list[dict[str, Any]]) -> bool:
    """Whether a chat holds an image or a video part."""
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and (part.get("type") in ("image", "video", "image_url")
                                               or "image" in part or "video" in part or "image_url" in part):
                    return True
    return False


def _cat(prompts: list[PromptInputs], key: str) -> torch.Tensor | None:
    parts = [getattr(p, key) for p in prompts if getattr(p, key) is not None]
    return torch.cat(parts, dim=0) if parts else None


def collate(prompts: list[PromptInputs], pad_id: int,
            responses: list[list[int]] | None = None) -> dict[str, torch.Tensor]:
    """Left-padded batch of prompts (each followed by its response, when given) as model kwargs."""
    rows, types = [], []
    for i, p in enumerate(prompts):
        resp = torch.tensor(responses[i] if responses else [], dtype=torch.long, device=p.input_ids.device)
        rows.append(torch.cat([p.input_ids.long(), resp]))
        tt = p.mm_token_type_ids if p.mm_token_type_ids is not None else torch.zeros_like(p.input_ids)
        types.append(torch.cat([tt.long(), torch.zeros_like(resp)]))
    length = max(len(r) for r in rows)
    device = rows[0].device
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), length), dtype=torch.long, device=device)
    mm = torch.zeros((len(rows), length), dtype=torch.long, device=device)
    for i, (r, t) in enumerate(zip(rows, types, strict=True)):
        input_ids[i, length - len(r):] = r
        mask[i, length - len(r):] = 1
        mm[i, length - len(r):] = t
    batch: dict[str, torch.Tensor] = {"input_ids": input_ids, "attention_mask": mask, "mm_token_type_ids": mm}
    for key in _VISION_KEYS:
        value = _cat(prompts, key)
        if value is not None:
            batch[key] = value
    return batch


def position_ids_for(model, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """Position ids of a padded batch, as `generate` builds them: [4, B, L] for Qwen-VL mRoPE
    (row 0 text positions, rows 1-3 temporal/height/width), [B, L] for plain decoders."""
    mask = batch["attention_mask"]
    text = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    inner = getattr(model, "model", None)
    if not hasattr(inner, "get_rope_index"):
        return text
    if "image_grid_thw" in batch or "video_grid_thw" in batch:
        vision, _ = inner.get_rope_index(
            batch["input_ids"], mm_token_type_ids=batch["mm_token_type_ids"],
            image_grid_thw=batch.get("image_grid_thw"), video_grid_thw=batch.get("video_grid_thw"),
            second_per_grid_ts=batch.get("second_per_grid_ts"), attention_mask=mask)
    else:
        vision = text.unsqueeze(0).expand(3, -1, -1)
    return torch.cat([text.unsqueeze(0), vision], dim=0)


def sequence_logprobs(model, prompts: list[PromptInputs], responses: list[list[int]], *,
                      with_entropy: bool = False, pad_id: int | None = None,
                      ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Per-token log-probs (and entropies) of each response after its prompt, teacher-forced.

    One batched forward pass over `prompt + response` rows, left padded. Returns
    `(logprobs, entropies)`: `logprobs[i]` is a 1-D tensor [len(responses[i])] of
    `log_softmax(raw_logits)[token]` (temperature 1, the unmodified model distribution), in the
    model's graph so it is differentiable; `entropies[i]` (same shape) is the entropy of the full
    next-token distribution at each response position when `with_entropy`, else `entropies` is None.
    Logits are computed only for the last `max(len(response)) + 1` positions to save memory.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"got {len(prompts)} prompts but {len(responses)} responses")
    if any(len(r) == 0 for r in responses):
        raise ValueError("every response needs at least one token")
    if pad_id is None:
        pad_id = _pad_id(model)
    device = next(model.parameters()).device
    batch = collate([p.to(device) for p in prompts], pad_id, responses)
    batch["position_ids"] = position_ids_for(model, batch)
    if not hasattr(getattr(model, "model", None), "get_rope_index"):
        batch.pop("mm_token_type_ids", None)
    keep = max(len(r) for r in responses) + 1
    logits = model(**batch, use_cache=False, logits_to_keep=keep).logits  # [B, keep, V]
    logp_all = torch.log_softmax(logits.float(), dim=-1)
    out_lp, out_ent = [], []
    for i, resp in enumerate(responses):
        n = len(resp)
        # position keep-1-n .. keep-2 predict the response's n tokens (rows end at the right edge)
        lp = logp_all[i, keep - 1 - n: keep - 1]
        tokens = torch.tensor(resp, dtype=torch.long, device=lp.device)
        out_lp.append(lp.gather(-1, tokens[:, None]).squeeze(-1))
        if with_entropy:
            out_ent.append(-(lp.exp() * lp).sum(-1))
    return out_lp, (out_ent if with_entropy else None)


def conversation_sequence(actions: list[AgentAction]) -> tuple[PromptInputs, list[int], list[tuple[int, int]]]:
    """A token-exact episode (`PromptConfig.token_exact`) as one sequence, as multi-turn trainers
    consume it: (the last step's prompt, its generated ids, and the `(start, end)` span of every
    step's generated ids in prompt + response). Only those spans are the policy's tokens; the system
    prompt, the observations and tool responses between them are context, masked out of a loss.

    Raises if a step's prompt does not start with the previous step's prompt and generation (the
    actions are not one token-exact episode, in order).
    """
    if not actions:
        raise ValueError("conversation_sequence needs the actions of at least one step")
    spans = []
    for i, act in enumerate(actions):
        if act.prompt_ids is None or act.token_ids is None:
            raise ValueError(f"step {i} has no prompt_ids / token_ids (not sampled by a backend that keeps ids)")
        if i:
            before = actions[i - 1].prompt_ids + actions[i - 1].token_ids
            if act.prompt_ids[:len(before)] != before:
                raise ValueError(f"step {i}'s prompt does not extend step {i - 1}'s prompt and generation: "
                                 "not a token-exact conversation (PromptConfig.token_exact), or not in order")
        spans.append((len(act.prompt_ids), len(act.prompt_ids) + len(act.token_ids)))
    last = actions[-1]
    prompt = last.prompt_inputs if last.prompt_inputs is not None else PromptInputs(
        input_ids=torch.tensor(last.prompt_ids, dtype=torch.long))
    return prompt, list(last.token_ids), spans


def _pad_id(model) -> int:
    gen = getattr(model, "generation_config", None)
    for value in (getattr(gen, "pad_token_id", None), getattr(model.config, "pad_token_id", None),
                  getattr(getattr(model.config, "text_config", None), "pad_token_id", None)):
        if isinstance(value, int):
            return value
    return 0


def load_model(model_dir: str | Path, *, device: str | None = None, dtype: str | torch.dtype | None = None):
    """(model, processor) of a local model directory, loaded offline (`local_files_only=True`)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {str(path)!r}: expected a saved transformers model directory "
                                "(e.g. one made by stepgym.agents.tiny.build_tiny_vlm)")
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    kwargs = {"local_files_only": True, "dtype": dtype or torch.float32}
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(path), **kwargs)
    except ValueError:  # a text-only decoder
        model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), processor


def _call_seed(seed: int, call: int) -> int:
    digest = hashlib.sha256(f"{seed}:{call}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class HFPolicy(Policy):
    """A transformers model as a policy: batched left-padded sampling, token ids and log-probs.

    `model_or_dir` is a model directory (loaded offline) or a loaded model (then pass `processor`).
    Every `act` call samples from a seed derived from `config.seed` and the call's index, so a
    rollout replays exactly from a fresh policy.
    """

    name = "hf"

    def __init__(self, model_or_dir: Any, processor: Any = None, config: GenerationSettings | None = None,
                 prompt: PromptConfig | None = None, *, device: str | None = None,
                 dtype: str | torch.dtype | None = None) -> None:
        if isinstance(model_or_dir, (str, Path)):
            self.model_dir: str | None = str(model_or_dir)
            self.model, loaded = load_model(model_or_dir, device=device, dtype=dtype)
            self.processor = processor or loaded
        else:
            if processor is None:
                raise ValueError("HFPolicy(model, processor): pass the processor (or tokenizer) with a loaded model")
            self.model_dir = getattr(model_or_dir, "name_or_path", None)
            self.model, self.processor = model_or_dir, processor
        self.config = config or GenerationSettings()
        self.prompt = prompt or PromptConfig()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._calls = 0
        self._exact_cache: dict[int, tuple[tuple, PromptInputs]] = {}  # env index -> its conversation so far
        self._template_cache: dict[str, tuple[str, str, list[dict[str, Any]]]] = {}
        self.eos_ids = self._eos_ids()
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else _pad_id(self.model)
        self.suppressed_ids = self._placeholder_ids()

    def _placeholder_ids(self) -> list[int]:
        """Vision placeholder tokens, never sampled: a generated <|image_pad|> would make any later
        forward pass over the response expect an image that does not exist."""
        ids = []
        for tok in ("<|image_pad|>", "<|video_pad|>", "<|vision_pad|>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                ids.append(tid)
        return ids

    def _eos_ids(self) -> list[int]:
        ids = getattr(self.model.generation_config, "eos_token_id", None)
        ids = [ids] if isinstance(ids, int) else list(ids or [])
        for tok in ("<|im_end|>", "<|endoftext|>"):
            tid = self.tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id and tid not in ids:
                ids.append(tid)
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        return ids

    # -- prompts ---------------------------------------------------------------------------------
    def messages(self, inputs: list[AgentInput]) -> list[list[dict[str, Any]]]:
        """The chat messages of each input (`prompting.build_messages` under `self.prompt`)."""
        return [build_messages(inp, self.prompt) for inp in inputs]

    def encode(self, inputs: list[AgentInput]) -> list[PromptInputs]:
        """Exact model inputs of each input's prompt (what `act` feeds the model)."""
        if self.prompt.token_exact:
            return [self._exact_prompt(inp) for inp in inputs]
        return self.encode_messages(self.messages(inputs))

    # -- token-exact conversations (PromptConfig.token_exact) --------------------------------------
    def _turn_ids(self, step) -> list[int]:
        """The ids of an earlier assistant turn: those it was sampled as (`Step.policy["token_ids"]`),
        or, for a step no model generated (an oracle's), its text tokenised as SFT trains it."""
        ids = (step.policy or {}).get("token_ids")
        if ids is not None:
            return [int(i) for i in ids]
        return self.tokenizer.encode(step.action, add_special_tokens=False) + [self.eos_ids[0]]

    def _template_parts(self, system: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        """(closing, probe, probe messages) of this chat template under `system`: `closing` is the
        text it writes after an assistant turn's content (Qwen: "<|im_end|>\n"); `probe` is the
        rendered [system, user, assistant] chat a new user turn's text is cut from. Cached per
        system prompt: every step of a conversation asks for it."""
        key = str(system.get("content"))
        if key not in self._template_cache:
            marker = "\x00turn\x00"
            probe_messages = [system, {"role": "user", "content": [{"type": "text", "text": "x"}]}]
            render = self.processor.apply_chat_template
            prompt = render(probe_messages, tokenize=False, add_generation_prompt=True)
            probe_messages = [*probe_messages, {"role": "assistant", "content": marker}]
            probe = render(probe_messages, tokenize=False)
            if not probe.startswith(prompt + marker):
                raise ValueError("token_exact needs a chat template that renders an assistant turn right after the "
                                 f"generation prompt; this one renders {probe[len(prompt):][:80]!r}")
            self._template_cache[key] = (probe[len(prompt) + len(marker):], probe, probe_messages)
        return self._template_cache[key]

    def _segment(self, text: str, messages: list[dict[str, Any]]) -> PromptInputs:
        """`PromptInputs` of a piece of chat text and the vision items of `messages` it holds."""
        images, videos, video_kwargs = vision_inputs(messages)
        if not images and not videos:
            ids = torch.tensor(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=torch.long)
            return PromptInputs(input_ids=ids, mm_token_type_ids=torch.zeros_like(ids) if self._typed else None)
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt", "add_special_tokens": False}
        if images:
            kwargs["images"] = images
        if videos:
            kwargs.update(videos=videos, **video_kwargs)
        return _from_processor(self.processor(**kwargs))

    def _exact_prompt(self, inp: AgentInput) -> PromptInputs:
        """The prompt of `inp` as the ids of every earlier prompt and generation, then its new turn.

        Built incrementally from the prompt this policy encoded for the same env at the previous
        step (checked against the history); an episode met mid-way (a resumed or replayed one) is
        rebuilt turn by turn from its history, whose observations hold their text and image.
        """
        cache = self._exact_cache
        n = len(inp.history)
        hit = cache.get(inp.env_index)
        if n and hit is not None and hit[0] == _conversation_key(inp, n - 1):
            prompt = self._extend(hit[1], inp)
        else:
            prompt = None
            for k in range(n + 1):
                past = inp if k == n else AgentInput(
                    env_index=inp.env_index, instruction=inp.instruction, action_doc=inp.action_doc,
                    observation={"text": inp.history[k].observation,
                                 "image": inp.history_images[k] if k < len(inp.history_images) else None},
                    info={}, history=inp.history[:k], history_images=inp.history_images[:k])
                prompt = self._extend(prompt, past)
        cache[inp.env_index] = (_conversation_key(inp), prompt)
        return prompt

    def _extend(self, prompt: PromptInputs | None, inp: AgentInput) -> PromptInputs:
        """`prompt` (that of the step before `inp`), the ids that step generated, then `inp`'s turn."""
        messages = turn_messages(inp, self.prompt)
        if prompt is None:
            out = self.encode_messages([messages])[0]
            out.meta = {**out.meta, "token_exact": True}
            return out
        system = system_message(inp, self.prompt)
        closing, probe, probe_messages = self._template_parts(system)
        turn = self._turn_ids(inp.history[-1])
        if turn and turn[-1] in self.eos_ids:
            eos_text = self.tokenizer.decode([turn[-1]])
            if closing.startswith(eos_text):  # the generated EOS already closed the turn
                closing = closing[len(eos_text):]
        full = self.processor.apply_chat_template([*probe_messages, *messages], tokenize=False,
                                                  add_generation_prompt=True)
        if not full.startswith(probe):
            raise ValueError("token_exact needs a chat template that renders earlier turns unchanged when a turn "
                             "is added; this one does not")
        segment = self._segment(closing + full[len(probe):], messages)
        generated = torch.tensor(turn, dtype=torch.long)
        parts = [prompt, PromptInputs(input_ids=generated,
                                      mm_token_type_ids=torch.zeros_like(generated) if self._typed else None),
                 segment]
        out = PromptInputs(input_ids=torch.cat([p.input_ids.long() for p in parts]),
                           meta={"token_exact": True})
        if self._typed:
            out.mm_token_type_ids = torch.cat([(p.mm_token_type_ids if p.mm_token_type_ids is not None
                                                else torch.zeros_like(p.input_ids)).long() for p in parts])
        for name in _VISION_KEYS:
            value = _cat(parts, name)
            if value is not None:
                setattr(out, name, value)
        return out

    def encode_messages(self, messages: list[list[dict[str, Any]]]) -> list[PromptInputs]:
        """`PromptInputs` of chats given as Qwen-VL messages.

        Chats without images or videos are tokenised in one batched tokenizer call, which gives
        the same ids as the processor (it only adds vision handling around that call) at a
        fraction of the cost: on the demo's text prompts, prompt encoding was half of the
        rollout time before.
        """
        text_only = [i for i, m in enumerate(messages) if not _has_vision(m)]
        out: list[PromptInputs | None] = [None] * len(messages)
        if text_only:
            texts = [self.processor.apply_chat_template(messages[i], tokenize=False, add_generation_prompt=True)
                     for i in text_only]
            for i, ids in zip(text_only, self.tokenizer(texts)["input_ids"]):
                ids = torch.tensor(ids, dtype=torch.long)
                out[i] = PromptInputs(input_ids=ids, mm_token_type_ids=torch.zeros_like(ids) if self._typed else None)
        for i, m in enumerate(messages):
            if out[i] is None:
                out[i] = encode_messages(self.processor, m)
        return out

    @property
    def _typed(self) -> bool:
        """Whether the processor returns `mm_token_type_ids` (the Qwen-VL processors do)."""
        return hasattr(self.processor, "image_processor")

    # -- generation ------------------------------------------------------------------------------
    def act(self, inputs: list[AgentInput]) -> list[AgentAction]:
        """One sampled action per input, with prompt ids, generated ids and their log-probs."""
        if not inputs:
            return []
        return self.generate(self.encode(inputs))

    @torch.no_grad()
    def generate(self, prompts: list[PromptInputs], settings: GenerationSettings | None = None,
                 *, call: int | None = None) -> list[AgentAction]:
        """Sample a response to each prompt; see the module docstring for what `logprobs` are.

        The sampling seed is derived from `settings.seed` and `call` (default: this policy's count
        of previous calls), so the same (seed, call) always draws the same tokens.
        """
        s = settings or self.config
        device = next(self.model.parameters()).device
        batch = collate([p.to(device) for p in prompts], self.pad_id)
        if not hasattr(getattr(self.model, "model", None), "get_rope_index"):
            batch.pop("mm_token_type_ids", None)
        gen_kwargs: dict[str, Any] = dict(
            max_new_tokens=s.max_new_tokens, eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
            output_logits=True, return_dict_in_generate=True, suppress_tokens=self.suppressed_ids or None,
        )
        # Every sampling knob is set explicitly: a None would be filled from the checkpoint's own
        # generation_config (Qwen2.5-VL-Instruct ships top_k=1, top_p=0.001, repetition_penalty=1.05).
        gen_kwargs.update(repetition_penalty=1.0, no_repeat_ngram_size=0, typical_p=1.0,
                          epsilon_cutoff=0.0, eta_cutoff=0.0, top_k=s.top_k, top_p=s.top_p)
        if s.greedy:
            gen_kwargs.update(do_sample=False, temperature=1.0)
        else:
            gen_kwargs.update(do_sample=True, temperature=s.temperature)
        if call is None:
            call = self._calls
            self._calls += 1
        devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=s.seed is not None):
            if s.seed is not None:
                torch.manual_seed(_call_seed(s.seed, call))
            out = self.model.generate(**batch, generation_config=None, **gen_kwargs)
        new = out.sequences[:, batch["input_ids"].shape[1]:]  # [B, T]
        logits = torch.stack(out.logits, dim=1).float()  # [B, T, V] raw (unprocessed) logits
        logp_all = torch.log_softmax(logits, dim=-1)  # [B, T, V]
        logp = logp_all.gather(-1, new[..., None]).squeeze(-1)  # [B, T]
        head = logp_all[:, :ENTROPY_TOKENS]
        head_entropy = -(head.exp() * head).sum(-1)  # [B, min(T, 20)] nats
        log_vocab = float(torch.log(torch.tensor(float(logits.shape[-1]))))
        meta = {"backend": "hf", **self.sampling_meta(s), "call": call}
        actions = []
        for i, p in enumerate(prompts):
            ids = new[i].tolist()
            n = len(ids)
            for t, tok in enumerate(ids):
                if tok in self.eos_ids:
                    n = t + 1
                    break
            ids = ids[:n]
            finish = "stop" if ids and ids[-1] in self.eos_ids else "length"
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            entropy = float(head_entropy[i, :min(n, ENTROPY_TOKENS)].mean()) if n else 0.0
            actions.append(AgentAction(text=text, token_ids=ids, logprobs=logp[i, :n].tolist(),
                                       prompt_ids=p.ids, prompt_inputs=p,
                                       meta={**meta, "finish_reason": finish, "entropy": entropy,
                                             "entropy_norm": entropy / log_vocab}))
        return actions

    def sequence_logprobs(self, prompts: list[PromptInputs], responses: list[list[int]], *,
                          with_entropy: bool = False):
        """`sequence_logprobs(self.model, ...)` with this policy's pad id."""
        return sequence_logprobs(self.model, prompts, responses, with_entropy=with_entropy, pad_id=self.pad_id)

    def sampling_meta(self, s: GenerationSettings | None = None) -> dict[str, Any]:
        return asdict(s or self.config)

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model_dir, "sampling": self.sampling_meta(),
                "prompt": {k: v for k, v in asdict(self.prompt).items() if k != "system_prompt"}}
