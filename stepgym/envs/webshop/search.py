"""BM25 product search (bm25s) over title, description and attributes; top 50, ranked deterministically."""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np

SEARCH_RETURN_N = 50
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOP = frozenset(bm25s.stopwords.STOPWORDS_EN)


def _stem(word: str) -> str:
    # a light plural stemmer, so that "shoes" finds "shoe" and "leggings" finds "legging";
    # PyStemmer would do better but is not a dependency
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of `text`, English stopwords removed, lightly stemmed."""
    return [_stem(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP]


def product_document(product: dict) -> str:
    """The text a product is indexed by: title, description and attributes."""
    attrs = " ".join(a for a in product.get("Attributes", []) if a != "DUMMY_ATTR")
    return f"{product.get('Title', '')} {product.get('Description', '')} {attrs}"


class SearchIndex:
    """A BM25 index over products; `search(keywords)` gives the asins of the top 50 matches."""

    def __init__(self, products: Sequence[dict]) -> None:
        self.asins = [p["asin"] for p in products]
        corpus = [tokenize(product_document(p)) for p in products]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in corpus]
        self.vocab = vocab
        self.model = bm25s.BM25()  # Lucene's BM25 variant, k1=1.5, b=0.75, like Pyserini's defaults
        self.model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)

    def __len__(self) -> int:
        return len(self.asins)

    def search(self, keywords: str, k: int = SEARCH_RETURN_N) -> list[str]:
        """Asins of the `k` best-scoring products (score > 0), ties broken by catalog order."""
        token_ids = [self.vocab[t] for t in tokenize(keywords) if t in self.vocab]
        if not token_ids:
            return []
        scores = self.model.get_scores(token_ids)
        n = min(k, int(np.count_nonzero(scores > 0)))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        # exact order: descending score, then catalog index (argpartition alone is not stable)
        kth = scores[top].min()
        tied = np.flatnonzero(scores >= kth)
        order = tied[np.lexsort((tied, -scores[tied]))][:n]
        return [self.asins[i] for i in order]
