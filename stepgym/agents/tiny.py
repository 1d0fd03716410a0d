"""Tiny offline Qwen2.5-VL models: a locally trained tokenizer and randomly initialised weights.

We cannot download Qwen checkpoints here, so tests, the demo and benchmarks use models of the same
architecture (`Qwen2_5_VLForConditionalGeneration`, same processor, same chat template, same special
tokens) at toy sizes. Everything goes through the code path a real checkpoint would take:
`build_tiny_vlm(dir)` writes a directory that `HFPolicy(dir)` / `--policy hf:DIR` load with
`local_files_only=True`.

The tokenizer is a byte-level BPE trained with `tokenizers` on text from the envs' action docs,
observations and generated agent-style sentences (`tokenizer_corpus`); it is shipped pre-built in
`assets/tokenizer/` (made by `scripts/make_tiny_tokenizer.py`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Qwen2.5-VL's special tokens in Qwen's order; ids follow the learned vocabulary (not Qwen's 151643+).
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]

# Qwen2.5's tokenizer marks these "special": false (they survive skip_special_tokens decoding)
NOT_SPECIAL = frozenset({"<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                         "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"})

# Qwen's pre-tokenisation split (the same pattern transformers' Qwen2Tokenizer uses).
PRETOKENIZE_REGEX = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"""
                     r""" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""")

# The Qwen2.5-VL chat template: text, images (<|vision_start|><|image_pad|><|vision_end|>) and
# videos in `content` lists, a default system prompt when none is given.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TOKENIZER_VOCAB_SIZE = 2048


CORPUS_ENVS = ("stepgym/Sokoban-v0", "stepgym/Sokoban-8x8-v0")


def tokenizer_corpus(seed: int = 0) -> list[str]:
    """Deterministic training text: action docs and observations of `CORPUS_ENVS` (a fixed list, so
    registering new envs does not change the shipped tokenizer), plus generated agent chatter."""
    import stepgym

    texts: list[str] = []
    for env_id in CORPUS_ENVS:
        try:
            env = stepgym.make(env_id)
            obs, info = env.reset(seed=seed)
            texts += [str(info.get("action_doc", "")), str(info.get("instruction", "")), str(obs.get("text", ""))]
            for move in ("up", "left", "down", "right", "click(10, 20)", "answer A"):
                obs, *_ = env.step(move)
                texts.append(str(obs.get("text", "")))
            env.close()
        except Exception as exc:  # an env needing a browser etc. must not block the tokenizer
            texts.append(f"{env_id}: {type(exc).__name__}")
    texts += _prompt_texts(seed)
    rng = random.Random(seed)
    verbs = ["click", "type", "scroll", "press", "open", "search", "select", "answer", "move", "push",
             "drag", "swipe", "tap", "buy", "go back", "wait", "finish", "think"]
    things = ["the button", "the search box", "the box", "the target", "the wall", "the menu", "the page",
              "the video", "the item", "the cart", "the file", "the window", "the screen", "the frame"]
    dirs = ["up", "down", "left", "right"]
    for _ in range(4000):
        x, y = rng.randint(0, 1919), rng.randint(0, 1079)
        v, t, d = rng.choice(verbs), rng.choice(things), rng.choice(dirs)
        texts.append(rng.choice([
            f"I should {v} {t}. <action>{d}</action>",
            f"<think>The player is next to {t}; moving {d} helps.</think><action>{d}</action>",
            f'{{"action": "{v}", "coordinate": [{x}, {y}]}}',
            f"<tool_call>{{\"name\": \"{v}\", \"arguments\": {{\"x\": {x}, \"y\": {y}}}}}</tool_call>",
            f"Step {rng.randint(1, 50)}: {v} {t}. Reward {rng.random():.2f}. Steps left: {rng.randint(0, 40)}.",
            f"Answer: {rng.choice('ABCD')}. The event happens at {rng.randint(0, 300)} seconds.",
            f"Error: expected one of up, down, left, right, got '{v}'.",
        ]))
    return texts


def _prompt_texts(seed: int, episodes: int = 60) -> list[str]:
    """Whole chat-templated prompts as the agent layer renders them on Sokoban (window mode, with
    and without history, under the default and a short system prompt).

    Without them the template's words ("observation", "assistant", "Previous steps", ...) stay split
    into characters, and a prompt costs the tiny model about twice the tokens it needs to.
    """
    import jinja2

    import stepgym
    from stepgym.agents.base import AgentInput
    from stepgym.agents.prompting import PromptConfig, build_messages
    from stepgym.records import Step

    template = jinja2.Environment().from_string(CHAT_TEMPLATE)
    configs = [PromptConfig(history_len=0, include_image=False),
               PromptConfig(history_len=2, include_image=False),
               PromptConfig(history_len=0, include_image=False,
                            system_prompt="Sokoban. Reply with one move: up, down, left or right.")]
    rng = random.Random(seed + 1)
    texts: list[str] = []
    for env_id in CORPUS_ENVS:
        env = stepgym.make(env_id)
        for ep in range(episodes):
            obs, info = env.reset(seed=seed * 1000 + ep)
            instruction, action_doc = info["instruction"], info["action_doc"]
            history: list[Step] = []
            for t in range(rng.randint(1, 6)):
                inp = AgentInput(env_index=0, observation=obs, info=info, instruction=instruction,
                                 action_doc=action_doc, history=list(history))
                cfg = configs[(ep + t) % len(configs)]
                texts.append(template.render(messages=build_messages(inp, cfg), add_generation_prompt=True))
                move = rng.choice(["up", "down", "left", "right", "jump"])
                new_obs, reward, terminated, truncated, info = env.step(move)
                history.append(Step(index=t, observation=obs["text"], action=move, reward=reward,
                                    action_valid=bool(info.get("action_valid", True)),
                                    action_error=info.get("action_error")))
                obs = new_obs
                if terminated or truncated:
                    break
        env.close()
    return texts


def save_corpus(corpus: list[str], path: str | Path) -> Path:
    """Write the training corpus as gzipped JSON lines (mtime 0, so the bytes are reproducible)."""
    import gzip

    path = Path(path)
    data = "".join(json.dumps(t, ensure_ascii=False) + "\n" for t in corpus).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
        f.write(data)
    return path


def load_corpus(path: str | Path | None = None) -> list[str]:
    """The corpus the shipped tokenizer was trained on (`assets/tokenizer/corpus.jsonl.gz`)."""
    import gzip

    from stepgym.paths import asset_path

    path = Path(path) if path is not None else asset_path("tokenizer", "corpus.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def train_tokenizer(corpus: list[str], vocab_size: int = TOKENIZER_VOCAB_SIZE):
    """A `tokenizers.Tokenizer`: byte-level BPE over `corpus` with Qwen's special tokens first."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    # As in Qwen's tokenizer, the tool-call and code tokens are added tokens but not special ones:
    # decoding with skip_special_tokens keeps them, so a generated <tool_call> reaches the env's parser
    data = json.loads(tok.to_str())
    for added in data["added_tokens"]:
        if added["content"] in NOT_SPECIAL:
            added["special"] = False
    return Tokenizer.from_str(json.dumps(data))


def save_tokenizer(tok, out_dir: str | Path) -> Path:
    """Write `tok` as a transformers tokenizer directory (tokenizer.json + config + chat template)."""
    from transformers import PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        unk_token=None, model_max_length=32768, padding_side="left",
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
                              "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>"},
    )
    hf.chat_template = CHAT_TEMPLATE
    hf.save_pretrained(out)
    return out


def load_tokenizer(path: str | Path | None = None, words: tuple[str, ...] | list[str] = ()):
    """The shipped tiny tokenizer (`assets/tokenizer/`), or one saved at `path`, loaded offline.

    `words` are added as whole tokens after the learned vocabulary (ids 720 and up for the shipped
    one), so every text without them tokenises exactly as before. A word of letters, digits and
    underscores matches only as a whole word ("click" not inside "clicked"); any other string
    (`'{"action_type": "'`) matches wherever it occurs. The tiny BPE splits words it rarely saw
    almost into characters (`open_app` -> `open _ ap p`), and a model this small then fails on single
    tokens of long actions; an action vocabulary of whole tokens removes those places.
    """
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    from stepgym.paths import asset_path

    path = Path(path) if path is not None else asset_path("tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if isinstance(words, str):
        raise ValueError(f"tokenizer words must be a list of strings, got the string {words!r}")
    bad = [w for w in words if not isinstance(w, str) or not w.strip()]
    if bad:
        raise ValueError(f"tokenizer words must be strings with a visible character, got {bad!r}")
    if words:
        tokenizer.add_tokens([AddedToken(w, single_word=w.replace("_", "a").isalnum(), normalized=False)
                              for w in dict.fromkeys(words)])
    return tokenizer


@dataclass(frozen=True)
class TinySize:
    """Widths and depths of a tiny Qwen2.5-VL (text decoder + vision tower)."""

    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vision_hidden: int
    vision_depth: int
    vision_heads: int


SIZES = {
    # ~0.4M params: generating 16 tokens for 8 short prompts takes a fraction of a second on CPU
    "tiny": TinySize(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128,
                     vision_hidden=32, vision_depth=2, vision_heads=2),
    # ~0.5M params: the demo's policy (learns 6x6 Sokoban in minutes on 2 CPU cores)
    "mini": TinySize(hidden=96, layers=3, heads=4, kv_heads=2, intermediate=256,
                     vision_hidden=32, vision_depth=1, vision_heads=2),
    "small": TinySize(hidden=256, layers=4, heads=8, kv_heads=4, intermediate=768,
                      vision_hidden=128, vision_depth=4, vision_heads=4),
}


def tiny_config(tokenizer, size: str = "tiny"):
    """A `Qwen2_5_VLConfig` of `size` whose special-token ids match `tokenizer`."""
    from transformers import Qwen2_5_VLConfig

    if size not in SIZES:
        raise ValueError(f"unknown tiny model size {size!r}; expected one of {sorted(SIZES)}")
    s = SIZES[size]
    head_dim = s.hidden // s.heads
    half = head_dim // 2  # mrope splits the rotary half-dim into temporal / height / width sections
    section = [half - 2 * (half // 3), half // 3, half // 3]
    ids = tokenizer.convert_tokens_to_ids
    text = dict(
        vocab_size=len(tokenizer), hidden_size=s.hidden, intermediate_size=s.intermediate,
        num_hidden_layers=s.layers, num_attention_heads=s.heads, num_key_value_heads=s.kv_heads,
        max_position_embeddings=4096, rms_norm_eps=1e-6, rope_theta=10000.0,
        rope_scaling={"type": "mrope", "mrope_section": section},
        bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
    )
    vision = dict(
        depth=s.vision_depth, hidden_size=s.vision_hidden, intermediate_size=2 * s.vision_hidden,
        num_heads=s.vision_heads, out_hidden_size=s.hidden, patch_size=14, spatial_merge_size=2,
        temporal_patch_size=2, window_size=112, fullatt_block_indexes=[s.vision_depth - 1],
        tokens_per_second=2,
    )
    return Qwen2_5_VLConfig(
        text_config=text, vision_config=vision,
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )


def tiny_processor(tokenizer):
    """A `Qwen2_5_VLProcessor` (Qwen2-VL image + video processors) around `tokenizer`.

    Pixel bounds are wide so images already sized by qwen-vl-utils (`prompting.PromptConfig`'s
    budgets) pass through unchanged.
    """
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    image = Qwen2VLImageProcessor(min_pixels=4 * 28 * 28, max_pixels=16384 * 28 * 28)
    video = Qwen2VLVideoProcessor(min_pixels=4 * 28 * 28, max_pixels=768 * 28 * 28)
    return Qwen2_5_VLProcessor(image_processor=image, tokenizer=tokenizer, video_processor=video,
                               chat_template=CHAT_TEMPLATE)


def build_tiny_vlm(out_dir: str | Path, size: str = "tiny", seed: int = 0,
                   tokenizer_dir: str | Path | None = None, words: tuple[str, ...] | list[str] = ()) -> Path:
    """Build a randomly initialised (seeded) Qwen2.5-VL of `size`, save model + processor to `out_dir`.

    `words`: whole-word tokens added to the tokenizer (`load_tokenizer`); the saved processor
    carries them, so the directory loads with them anywhere.

    Returns `out_dir`, a directory that loads offline (`local_files_only=True`) with
    `Qwen2_5_VLForConditionalGeneration.from_pretrained` / `AutoProcessor.from_pretrained` and gives
    the same outputs as the model built here. The same seed always gives the same weights.
    """
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(tokenizer_dir, words)
    config = tiny_config(tokenizer, size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config).to(torch.float32).eval()
    ids = tokenizer.convert_tokens_to_ids
    model.generation_config = GenerationConfig(
        eos_token_id=[ids("<|im_end|>"), ids("<|endoftext|>")], pad_token_id=ids("<|endoftext|>"),
        bos_token_id=ids("<|endoftext|>"), do_sample=False, max_new_tokens=32,
    )
    model.save_pretrained(out)
    tiny_processor(tokenizer).save_pretrained(out)
    (out / "stepgym_tiny.json").write_text(json.dumps({"size": size, "seed": seed}) + "\n")
    return out


def build_tiny_lm(out_dir: str | Path, seed: int = 0, tokenizer_dir: str | Path | None = None) -> Path:
    """Build a randomly initialised (seeded) text-only `Qwen2ForCausalLM`, save it with the tokenizer.

    Returns `out_dir`. For trainers whose text path takes a causal LM (TRL's `rollout_func`):
    hidden 128, 2 heads of head_dim 64 (vLLM's CPU attention rejects smaller heads), 2 layers.
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(tokenizer_dir)
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=64, max_position_embeddings=4096,
        rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
        bos_token_id=ids("<|endoftext|>"), eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[ids("<|im_end|>"), ids("<|endoftext|>")], pad_token_id=ids("<|endoftext|>"),
        bos_token_id=ids("<|endoftext|>"), do_sample=False, max_new_tokens=32,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "stepgym_tiny.json").write_text(json.dumps({"size": "lm", "seed": seed}) + "\n")
    return out


def describe(model: Any) -> dict[str, Any]:
    """Parameter count and sizes of a model (for logs and benchmark output)."""
    n = sum(p.numel() for p in model.parameters())
    cfg = model.config.text_config
    return {"params": n, "hidden": cfg.hidden_size, "layers": cfg.num_hidden_layers, "vocab": cfg.vocab_size}


def main(argv: list[str] | None = None) -> int:
    """`python -m stepgym.agents.tiny OUT_DIR [--size tiny|small] [--seed N]`."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m stepgym.agents.tiny",
                                description="build a tiny random-weight Qwen2.5-VL model directory")
    p.add_argument("out_dir")
    p.add_argument("--size", default="tiny", choices=sorted(SIZES))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = build_tiny_vlm(args.out_dir, size=args.size, seed=args.seed)
    print(f"wrote {out} (use --policy hf:{out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
