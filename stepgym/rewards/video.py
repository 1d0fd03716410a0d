"""Multiple-choice answer extraction and scoring for video QA, following lmms-eval's rules.

lmms-eval (Video-MME / MVBench tasks) strips answer prefixes such as "The best answer is",
gives up on long replies that name no option letter, and takes the first option letter.
For LongVideoBench it also matches an option's text, and an unparseable reply gets a random
option (so a model that never answers scores chance, not zero).

>>> extract_answer_letter("The best answer is (C) a red star.")
'C'
>>> extract_answer_letter("B. the blue ball")
'B'
>>> extract_answer_letter("I am not sure which object appeared in the video, sorry about that.") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

ANSWER_PREFIXES = (
    "The best answer is", "The correct answer is", "The answer is", "The answer",
    "The best option is", "The correct option is", "Best answer:", "Best option:",
    "Answer:", "Option:", "The correct answer", "The correct option",
)
MAX_WORDS_WITHOUT_LETTER = 10


def _letter_pattern(letters: str) -> re.Pattern:
    # a standalone letter: "(B)", "B.", "B)", "B:", "B" — never the B of "Because"
    return re.compile(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])")


def strip_answer_prefixes(text: str) -> str:
    """`text` without lmms-eval's answer prefixes ("The best answer is", "Answer:", ...)."""
    s = text.strip()
    for prefix in ANSWER_PREFIXES:
        s = s.replace(prefix, "")
    return s.strip()


def extract_answer_letter(text: str, letters: str = "ABCD") -> str | None:
    """The first option letter named in a model reply, or None when it names none.

    Like lmms-eval: prefixes removed; a reply over 10 words with no option letter is
    unanswered. Unlike its bare `[ABCD]` search, a letter must stand alone, so "Because ..."
    does not read as B.
    """
    if not isinstance(text, str):
        raise TypeError(f"reply must be a str, got {type(text).__name__}")
    if not letters or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"letters must be upper-case option letters like 'ABCD', got {letters!r}")
    s = strip_answer_prefixes(text)
    pattern = _letter_pattern(letters)
    match = pattern.search(s)
    if len(s.split()) > MAX_WORDS_WITHOUT_LETTER and match is None:
        return None
    return match.group(1) if match else None


def match_option_text(text: str, options: Sequence[str], letters: str = "ABCDEFGH") -> str | None:
    """The letter of the option whose text the reply contains (the longest such), else None."""
    low = text.lower()
    hits = [(len(o), letters[i]) for i, o in enumerate(options) if o and o.strip().lower() in low]
    return max(hits)[1] if hits else None


def longvideobench_answer(text: str, options: Sequence[str],
                          rng: np.random.Generator | int | None = None) -> str:
    """LongVideoBench's rule: an option letter, else an option's text, else a random option letter."""
    letters = "ABCDEFGH"[: len(options)]
    letter = extract_answer_letter(text, letters) or match_option_text(text, options, letters)
    if letter is not None:
        return letter
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return letters[int(rng.integers(len(options)))]


def multiple_choice_reward(text: str, answer: str, letters: str = "ABCD") -> float:
    """1.0 when the reply's extracted letter equals `answer`, else 0.0.

    >>> multiple_choice_reward("Answer: B", "B")
    1.0
    """
    return float(extract_answer_letter(text, letters) == answer.strip().upper())


def fraction_in_span(times: Sequence[float] | np.ndarray, span: tuple[float, float]) -> float:
    """Fraction of `times` (seconds) inside the half-open evidence span [start, end)."""
    t = np.asarray(times, dtype=np.float64)
    if t.size == 0:
        return 0.0
    return float(np.mean((t >= span[0]) & (t < span[1])))
