"""Answer matching for Mobile-v0's information-retrieval tasks."""

from __future__ import annotations

import re


def normalize_answer(text: str) -> str:
    """Lower-case words and numbers of `text`, punctuation dropped, single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", str(text).lower().replace(":", " ")))


def answer_matches(answer: str | None, expected: str) -> bool:
    """True when `answer` states `expected`: the same words, or `expected` as a whole phrase inside it.

    Times match with or without a leading zero ("7:05" == "07:05"); phone numbers match on
    their digits whatever the separators.
    """
    if answer is None:
        return False
    digits_e = re.sub(r"\D", "", expected)
    if digits_e and len(digits_e) >= 7 and re.fullmatch(r"[\d\s()+\-.]+", expected.strip()):
        return digits_e in re.sub(r"\D", "", answer)
    a = " " + " ".join(t.lstrip("0") or "0" if t.isdigit() else t for t in normalize_answer(answer).split()) + " "
    e = " ".join(t.lstrip("0") or "0" if t.isdigit() else t for t in normalize_answer(expected).split())
    return bool(e) and f" {e} " in a
