"""Local search: BM25 (bm25s) over a document corpus, and `open` to read one document."""

from __future__ import annotations

import difflib
import gzip
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from stepgym.envs.tooluse.tools.base import Tool, ToolError, tool

_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Document:
    """One corpus document: a stable id, a title and its text."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Hit:
    """One search result: the document, its BM25 score and the sentence that matched best."""

    doc_id: str
    title: str
    snippet: str
    score: float


def load_corpus(path: str | Path) -> list[Document]:
    """Documents from a .jsonl(.gz) file of {"id", "title", "text"} records."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    docs = []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            missing = [k for k in ("id", "title", "text") if k not in rec]
            if missing:
                raise ValueError(f"{path}:{n}: corpus record lacks {missing}; expected id, title, text")
            docs.append(Document(str(rec["id"]), str(rec["title"]), str(rec["text"])))
    return docs


class SearchIndex:
    """A BM25 index over documents (title + text), with document lookup by id."""

    def __init__(self, docs: list[Document], snippet_chars: int = 200) -> None:
        try:
            import bm25s
            from bm25s.tokenization import Tokenizer
        except ImportError as exc:
            raise ImportError("the search tool needs bm25s: pip install 'stepgym[search]'") from exc

        if not docs:
            raise ValueError("SearchIndex needs at least one document")
        self.docs = docs
        self.by_id = {d.doc_id: d for d in docs}
        if len(self.by_id) != len(docs):
            raise ValueError("corpus has duplicate document ids")
        self.snippet_chars = snippet_chars
        self._tokenizer = Tokenizer(stopwords="en")
        ids = self._tokenizer.tokenize([f"{d.title}. {d.text}" for d in docs], return_as="ids",
                                       show_progress=False)
        self._bm25 = bm25s.BM25()
        self._bm25.index(ids, show_progress=False)

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The top-`k` documents with a positive BM25 score, best first (ties by corpus order)."""
        q = self._tokenizer.tokenize([query], return_as="ids", update_vocab=False, show_progress=False)
        if not any(q[0]):
            return []
        k = min(k, len(self.docs))
        res = self._bm25.retrieve(q, k=k, show_progress=False, n_threads=1)
        idx, scores = np.asarray(res.documents[0]), np.asarray(res.scores[0])
        order = sorted(range(len(idx)), key=lambda i: (-float(scores[i]), int(idx[i])))
        terms = set(_WORD.findall(query.lower()))
        return [Hit(self.docs[int(idx[i])].doc_id, self.docs[int(idx[i])].title,
                    self._snippet(self.docs[int(idx[i])], terms), round(float(scores[i]), 4))
                for i in order if scores[i] > 0]

    def _snippet(self, doc: Document, terms: set[str]) -> str:
        sentences = _SENTENCE.split(doc.text)
        best = max(sentences, key=lambda s: (len(terms & set(_WORD.findall(s.lower()))), -sentences.index(s)))
        return best if len(best) <= self.snippet_chars else best[: self.snippet_chars - 3] + "..."

    def get(self, doc_id: str) -> Document:
        """The document with this id; ToolError naming close ids otherwise."""
        try:
            return self.by_id[doc_id]
        except KeyError:
            close = difflib.get_close_matches(doc_id, list(self.by_id), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; use an id that search returned"
            raise ToolError(f"open: no document with id {doc_id!r}{hint}") from None


@lru_cache(maxsize=8)
def cached_index(path: str) -> SearchIndex:
    """One index per corpus file per process (envs in a pool share it)."""
    return SearchIndex(load_corpus(path))


def search_tools(index: SearchIndex, max_k: int = 10) -> list[Tool]:
    """The `search` and `open` tools bound to one index."""

    @tool(name="search")
    def search(query: str, k: int = 3) -> str:
        """Search the document collection; returns ids, titles and a matching sentence of each hit.

        Args:
            query: keywords, e.g. a name or a phrase from the question
            k: how many results to return (1-10)
        """
        if not 1 <= k <= max_k:
            raise ToolError(f"search: k must be between 1 and {max_k}, got {k}")
        if not query.strip():
            raise ToolError("search: query is empty")
        hits = index.search(query, k)
        if not hits:
            return f"No results for {query!r}."
        return "\n".join(f"{i}. [{h.doc_id}] {h.title}: {h.snippet}" for i, h in enumerate(hits, 1))

    @tool(name="open")
    def open_document(doc_id: str) -> str:
        """Read a whole document by the id that search returned.

        Args:
            doc_id: a document id such as "oren-kalvast"
        """
        doc = index.get(doc_id.strip())
        return f"# {doc.title} [{doc.doc_id}]\n{doc.text}"

    return [search, open_document]
