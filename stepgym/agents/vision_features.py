"""Frame and text embeddings from a Qwen2.5-VL's own towers, for selectors that score frames (TSPO).

A frame goes through the model's vision tower and patch merger: the tokens the language model
would see for it (`get_image_features(...).pooler_output`, [tokens, hidden]), mean-pooled to
one vector. A text goes through the language model: its last hidden states, mean-pooled. Both
land in the language model's hidden space (width `hidden`), so a frame and a question are
comparable. Each vector is scaled to unit RMS, so a selector sees the same scale from a tiny
test model and from a 7B checkpoint.

    emb = VLMEmbedder.from_dir("Qwen2.5-VL-7B-Instruct", tokens_per_frame=64)
    f = emb(frames)                      # [T, hidden] float32, frames [T, H, W, 3] uint8
    q = emb.text("Which object appeared briefly?")   # [hidden]

Frames are resized first to at most `tokens_per_frame` merged tokens (28×28 px each), so the
processor keeps their size and the cost per frame is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from stepgym.envs.video.slowfast import frame_size_for_tokens


def _unit_rms(x: torch.Tensor) -> torch.Tensor:
    return x / x.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-6)


class VLMEmbedder:
    """Pooled frame embeddings (vision tower) and text embeddings (language model) of one Qwen2.5-VL."""

    def __init__(self, model: Any, processor: Any, *, tokens_per_frame: int = 16, batch_frames: int = 64) -> None:
        if tokens_per_frame < 1 or batch_frames < 1:
            raise ValueError(f"need tokens_per_frame >= 1 and batch_frames >= 1, got {tokens_per_frame}, {batch_frames}")
        inner = getattr(model, "model", model)
        if not hasattr(inner, "get_image_features") or not hasattr(inner, "language_model"):
            raise TypeError(f"{type(model).__name__} has no vision tower and language model to embed with; "
                            "expected a Qwen2-VL / Qwen2.5-VL model (e.g. from stepgym.agents.tiny.build_tiny_vlm)")
        self.model, self.processor, self._inner = model, processor, inner
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.tokens_per_frame = tokens_per_frame
        self.batch_frames = batch_frames

    @classmethod
    def from_dir(cls, model_dir: str | Path, *, device: str | None = None, dtype: str | torch.dtype | None = None,
                 **kwargs: Any) -> VLMEmbedder:
        """An embedder over a local model directory (loaded offline)."""
        from stepgym.agents.hf import load_model

        model, processor = load_model(model_dir, device=device, dtype=dtype)
        return cls(model, processor, **kwargs)

    @property
    def dim(self) -> int:
        """Width of every embedding (the language model's hidden size)."""
        cfg = self.model.config
        return int(getattr(cfg, "text_config", cfg).hidden_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """[T, dim] float32: each frame's merged vision tokens, mean-pooled."""
        from PIL import Image

        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be a [T, H, W, 3] uint8 array, got {frames.shape} {frames.dtype}")
        h, w = frames.shape[1:3]
        th, tw = frame_size_for_tokens(max(h, 28), max(w, 28), self.tokens_per_frame)
        out = []
        for start in range(0, len(frames), self.batch_frames):
            images = [Image.fromarray(f).resize((tw, th), Image.BICUBIC) for f in frames[start:start + self.batch_frames]]
            batch = self.processor.image_processor(images=images, return_tensors="pt")
            dtype = next(self._inner.visual.parameters()).dtype
            feats = self._inner.get_image_features(pixel_values=batch["pixel_values"].to(self.device, dtype),
                                                   image_grid_thw=batch["image_grid_thw"].to(self.device))
            pooled = torch.stack([tokens.float().mean(dim=0) for tokens in feats.pooler_output])
            out.append(_unit_rms(pooled).cpu())
        return torch.cat(out).numpy().astype(np.float32)

    @torch.inference_mode()
    def text(self, text: str) -> np.ndarray:
        """[dim] float32: the language model's last hidden states over `text`, mean-pooled."""
        ids = self.tokenizer([text], return_tensors="pt")
        hidden = self._inner.language_model(input_ids=ids["input_ids"].to(self.device),
                                            attention_mask=ids["attention_mask"].to(self.device)).last_hidden_state
        return _unit_rms(hidden[0].float().mean(dim=0)).cpu().numpy().astype(np.float32)
