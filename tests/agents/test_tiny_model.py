"""Tiny Qwen2.5-VL models: the shipped tokenizer, build/save/reload offline, image and video inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stepgym.agents.hf import GenerationSettings, HFPolicy, encode_messages
from stepgym.agents.tiny import SPECIAL_TOKENS, build_tiny_vlm, load_tokenizer, train_tokenizer
from stepgym.paths import asset_path


def test_shipped_tokenizer_is_trained_from_the_shipped_corpus():
    from stepgym.agents.tiny import load_corpus

    shipped = json.loads(asset_path("tokenizer", "tokenizer.json").read_text())
    retrained = json.loads(train_tokenizer(load_corpus()).to_str())
    stale = "assets/tokenizer is stale: run python scripts/make_tiny_tokenizer.py"
    assert retrained["model"]["vocab"] == shipped["model"]["vocab"], stale
    assert retrained["model"]["merges"] == shipped["model"]["merges"], stale


def test_decoding_keeps_tool_call_tags_and_drops_chat_markers():
    """As Qwen2.5's tokenizer: a generated tool call decodes with its tags (the env parses them),
    the turn's end marker does not."""
    tok = load_tokenizer()
    ids = tok('<tool_call>{"name": "search"}</tool_call><|im_end|>', add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == '<tool_call>{"name": "search"}</tool_call>'
    shipped = json.loads(asset_path("tokenizer", "tokenizer.json").read_text())
    assert {a["content"]: a["special"] for a in shipped["added_tokens"]}["<tool_call>"] is False


def test_tokenizer_has_qwen_special_tokens_and_chat_template():
    tok = load_tokenizer()
    for t in SPECIAL_TOKENS:
        ids = tok(t, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and tok.convert_ids_to_tokens(ids[0]) == t
    text = "Push the box <action>left</action> at (12, 345)."
    assert tok.decode(tok(text)["input_ids"]) == text
    chat = tok.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
        tokenize=False, add_generation_prompt=True)
    assert chat == ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n"
                    "<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n")
    assert tok.padding_side == "left" and tok.pad_token == "<|endoftext|>" and tok.eos_token == "<|im_end|>"


def test_build_save_reload_offline_identical(tiny_dir, tmp_path):
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(tiny_dir), local_files_only=True).eval()
    proc = AutoProcessor.from_pretrained(str(tiny_dir), local_files_only=True)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    # same seed -> same weights; another seed -> other weights
    again = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        str(build_tiny_vlm(tmp_path / "again", seed=0)), local_files_only=True).eval()
    other = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        str(build_tiny_vlm(tmp_path / "other", seed=1)), local_files_only=True).eval()
    image = np.random.default_rng(0).integers(0, 255, (96, 120, 3), dtype=np.uint8)
    msgs = [{"role": "user", "content": [{"type": "image", "image": image_pil(image)}, {"type": "text", "text": "go"}]}]
    p = encode_messages(proc, msgs)
    assert p.pixel_values is not None and p.image_grid_thw.tolist() == [[1, 6, 8]]  # 96x120 -> 84x112
    kwargs = dict(input_ids=p.input_ids[None], mm_token_type_ids=p.mm_token_type_ids[None],
                  pixel_values=p.pixel_values, image_grid_thw=p.image_grid_thw)
    with torch.no_grad():
        a, b, c = (m(**kwargs).logits for m in (model, again, other))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def image_pil(arr):
    from PIL import Image

    return Image.fromarray(arr)


def test_generate_with_image(tiny_dir, inputs):
    policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=6, temperature=0))
    prompts = policy.encode(inputs[:2])
    assert all(p.image_grid_thw is not None for p in prompts)
    image_pad = policy.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # a 96x96 board -> 84x84 -> 6x6 patches of 14 px -> 9 merged (2x2) tokens
    assert (prompts[0].input_ids == image_pad).sum().item() == 9
    actions = policy.act(inputs[:2])
    assert all(1 <= len(a.token_ids) <= 6 and len(a.logprobs) == len(a.token_ids) for a in actions)


def _write_mp4(path, frames: int = 8, fps: int = 4, size: int = 64) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.zeros((size, size, 3), np.uint8)
            img[:, : (i + 1) * size // frames] = (200, 60, 30)  # a bar growing across the frame
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_generate_with_video_file(tiny_dir, tmp_path):
    import decord

    path = tmp_path / "clip.mp4"
    _write_mp4(path)
    assert len(decord.VideoReader(str(path))) == 8  # a real file the decoder reads back
    policy = HFPolicy(tiny_dir, config=GenerationSettings(max_new_tokens=5, temperature=0))
    msgs = [{"role": "user", "content": [
        {"type": "video", "video": str(path), "fps": 2.0, "min_pixels": 28 * 28 * 4, "max_pixels": 56 * 56},
        {"type": "text", "text": "What grows?"}]}]
    (prompt,) = policy.encode_messages([msgs])
    assert prompt.video_grid_thw is not None and prompt.pixel_values_videos is not None
    t, h, w = prompt.video_grid_thw[0].tolist()
    # 2 s of video sampled at 2 fps -> 4 frames -> 2 temporal patches, 1 s apart
    assert t == 2 and prompt.second_per_grid_ts.tolist() == [1.0]
    video_pad = policy.tokenizer.convert_tokens_to_ids("<|video_pad|>")
    assert (prompt.input_ids == video_pad).sum().item() == t * h * w // 4
    (action,) = policy.generate([prompt])
    lp, _ = policy.sequence_logprobs([prompt], [action.token_ids])
    torch.testing.assert_close(lp[0], torch.tensor(action.logprobs), atol=1e-4, rtol=0)


def test_unknown_size_is_named():
    with pytest.raises(ValueError, match="unknown tiny model size 'huge'"):
        build_tiny_vlm("/nonexistent", size="huge")


def test_added_words_are_whole_tokens_and_leave_other_text_as_it_was(tmp_path):
    plain = load_tokenizer()
    words = ['{"action_type": "', "open_app", "click", "Clock"]
    tok = load_tokenizer(words=words)
    action = '{"action_type": "open_app", "app_name": "Clock"}'
    pieces = tok.convert_ids_to_tokens(tok(action, add_special_tokens=False)["input_ids"])
    assert pieces[:2] == ['{"action_type": "', "open_app"] and "Clock" in pieces
    assert len(pieces) < len(plain.tokenize(action)) and tok.decode(tok(action)["input_ids"]) == action
    # an added word matches only whole ("Clocks", "reopen_apps" keep the old pieces), and text
    # without the words is unchanged
    for text in ("Clocks tick; reopen_apps.", "It clicked twice.", "Push the box <action>left</action>."):
        assert tok(text)["input_ids"] == plain(text)["input_ids"]
    # appended: every old id keeps its meaning; a word the BPE already has whole ("click") is not added twice
    assert tok.convert_ids_to_tokens(list(range(len(plain)))) == plain.convert_ids_to_tokens(list(range(len(plain))))
    assert len(tok) == len(plain) + 3 and tok.convert_tokens_to_ids("click") == plain.convert_tokens_to_ids("click")
    # the model is sized for them, and its saved processor carries them
    out = build_tiny_vlm(tmp_path / "words", size="tiny", words=words)
    policy = HFPolicy(out, config=GenerationSettings(max_new_tokens=2), device="cpu")
    assert policy.tokenizer.convert_ids_to_tokens(policy.tokenizer(action)["input_ids"])[:2] == pieces[:2]
    assert policy.model.get_input_embeddings().num_embeddings == len(tok)
    with pytest.raises(ValueError, match=r"tokenizer words must be strings with a visible character, got \[' '\]"):
        load_tokenizer(words=["click", " "])
    with pytest.raises(ValueError, match="tokenizer words must be a list of strings, got the string 'open_app'"):
        load_tokenizer(words="open_app")  # not its eight characters
