"""Train the tiny byte-level BPE tokenizer (Qwen special tokens + chat template) into assets/tokenizer/.

Deterministic: the corpus is generated from the registered envs and a seeded generator, and BPE
training is deterministic for a fixed corpus. Run: `python scripts/make_tiny_tokenizer.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepgym.agents.tiny import save_tokenizer, tokenizer_corpus, train_tokenizer  # noqa: E402


def main() -> None:
    corpus = tokenizer_corpus(seed=0)
    tok = train_tokenizer(corpus)
    out = save_tokenizer(tok, ROOT / "assets" / "tokenizer")
    print(f"trained on {len(corpus)} texts; vocab {tok.get_vocab_size()} -> {out}")


if __name__ == "__main__":
    main()
