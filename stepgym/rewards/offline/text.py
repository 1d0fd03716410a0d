"""String similarity used by offline protocols: token-set F1, Levenshtein distance, ANLS."""

from __future__ import annotations


def token_set_f1(pred: str, gold: str, lowercase: bool = False, empty_both: float = 1.0) -> float:
    """F1 of the whitespace-token *sets* of two strings (Mind2Web's and OS-Atlas' `calculate_f1`).

    Two empty strings give `empty_both`: 1 in MindAct's `calculate_f1`, 0 in OS-Atlas'.

    >>> round(token_set_f1("CLICK x", "CLICK"), 3)
    0.667
    """
    if lowercase:
        pred, gold = pred.lower(), gold.lower()
    p, g = set(pred.split()), set(gold.split())
    if not p and not g:
        return empty_both
    if not p or not g:
        return 0.0
    tp = len(p & g)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(p), tp / len(g)
    return 2 * precision * recall / (precision + recall)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) > len(b):
        a, b = b, a
    row = list(range(len(a) + 1))
    for j, cb in enumerate(b, 1):
        prev, row[0] = row[0], j
        for i, ca in enumerate(a, 1):
            cur = row[i]
            row[i] = prev if ca == cb else 1 + min(prev, row[i], row[i - 1])
            prev = cur
    return row[-1]


def anls(a: str, b: str) -> float:
    """Normalised Levenshtein similarity 1 - dist / max(len); two empty strings give 1."""
    length = max(len(a), len(b))
    return 1.0 if length == 0 else 1.0 - levenshtein(a, b) / length
