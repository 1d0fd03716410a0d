"""`GenerationSettings`: the sampling settings every generation backend shares (no torch needed).

The HTTP client, the vLLM engine and the command-line spec parser use them without importing
the transformers backend; `from stepgym.agents.hf import GenerationSettings` still works.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GenerationSettings:
    """Sampling settings of a generation backend."""

    max_new_tokens: int = 32
    """Most tokens generated per action."""
    temperature: float = 1.0
    """Sampling temperature; 0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling mass (1.0: off)."""
    top_k: int = 0
    """Keep only the k most likely tokens (0: off)."""
    seed: int | None = 0
    """Seed of the sampling stream: the same seed and the same sequence of `act` calls give the
    same tokens. None: draw from torch's global generator."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0 = off), got {self.top_k}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0
