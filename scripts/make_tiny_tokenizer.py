"""Train the tiny byte-level BPE tokenizer (Qwen special tokens + chat template) into assets/tokenizer/.

Deterministic: the corpus is generated from fixed envs and a seeded generator, and BPE training is
deterministic for a fixed corpus; the corpus is saved as assets/tokenizer/corpus.jsonl.gz. Run: `python scripts/make_tiny_tokenizer.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stepgym.agents.tiny import (  # noqa: E402
    save_corpus,
    save_tokenizer,
    tokenizer_corpus,
    train_tokenizer,
)


def main() -> None:
    corpus = tokenizer_corpus(seed=0)
    tok = train_tokenizer(corpus)
    out = save_tokenizer(tok, ROOT / "assets" / "tokenizer")
    # the corpus ships beside the tokenizer: training from it reproduces the tokenizer exactly,
    # even after the envs' texts change
    save_corpus(corpus, out / "corpus.jsonl.gz")
    print(f"trained on {len(corpus)} texts; vocab {tok.get_vocab_size()} -> {out}")


if __name__ == "__main__":
    main()
