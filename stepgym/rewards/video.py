"""Multiple-choice answer rules for video QA: which option letter a benchmark's evaluator reads in a reply.

Each benchmark's evaluator reads replies its own way, so the same reply can score 1 on one
benchmark and 0 on another. Each rule below is a pure function

    rule(reply, options, rng) -> letter | None

returning the option letter the evaluator extracts (None when it extracts none: scored wrong).
`rng` is only drawn from by rules that guess (LongVideoBench). `ANSWER_RULES` names them;
`RULE_FOR_SOURCE` says which one a data format uses; `answer_rule(spec)` resolves a name or
passes a callable through, so callers can override the choice.

What the rules read from common replies (options A-D):

    reply               stepgym  videomme  videomme-lmms-eval  mvbench  longvideobench
    "B"                 B        B         B                   B        B
    "(B)"               B        B         B                   B        B
    "B. red"            B        B         B                   B        B
    "The answer is B"   B        B         B                   B        B
    "b" / "(b)"         -        -         -                   B        random
    "Answer: B"         B        A         B                   B        A
    "I am not sure."    -        -         -                   -        random

(Video-MME's and LongVideoBench's evaluators take the first capital option letter anywhere in the
reply, so "Answer: B" reads as the A of "Answer".)

>>> extract_answer_letter("The best answer is (C) a red star.")
'C'
>>> videomme_answer("Answer: B", ["x", "y", "z", "w"])
'A'
>>> mvbench_answer("(b)", ["x", "y", "z"])
'B'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

LETTERS = "ABCDEFGH"
AnswerRule = Callable[..., "str | None"]

ANSWER_PREFIXES = (
    "The best answer is", "The correct answer is", "The answer is", "The answer",
    "The best option is", "The correct option is", "Best answer:", "Best option:",
    "Answer:", "Option:", "The correct answer", "The correct option",
)
MAX_WORDS_WITHOUT_LETTER = 10


# -- stepgym's own rule (generated data) -------------------------------------------------------------
def _letter_pattern(letters: str) -> re.Pattern:
    # a standalone letter: "(B)", "B.", "B)", "B:", "B" — never the B of "Because"
    return re.compile(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])")


def strip_answer_prefixes(text: str) -> str:
    """`text` without answer prefixes ("The best answer is", "Answer:", ...)."""
    s = text.strip()
    for prefix in ANSWER_PREFIXES:
        s = s.replace(prefix, "")
    return s.strip()


def extract_answer_letter(text: str, letters: str = "ABCD") -> str | None:
    """The first standalone option letter in a reply after answer prefixes, or None when it names none.

    stepgym's own rule: lmms-eval's prefix stripping and its "over 10 words and no letter means
    unanswered", but a letter must stand alone and be upper case, so "Because ..." is not B and
    "Answer: B" is B.
    """
    if not isinstance(text, str):
        raise TypeError(f"reply must be a str, got {type(text).__name__}")
    if not letters or not letters.isalpha() or not letters.isupper():
        raise ValueError(f"letters must be upper-case option letters like 'ABCD', got {letters!r}")
    s = strip_answer_prefixes(text)
    match = _letter_pattern(letters).search(s)
    if len(s.split()) > MAX_WORDS_WITHOUT_LETTER and match is None:
        return None
    return match.group(1) if match else None


def stepgym_answer(reply: str, options: Sequence[str], rng: np.random.Generator | None = None) -> str | None:
    """stepgym's rule for its generated data: `extract_answer_letter` over the options' letters."""
    return extract_answer_letter(reply, _letters(options))


# -- Video-MME ---------------------------------------------------------------------------------------
# The official script's prefix list misses two commas, so Python joins those literals: "The best
# option is" and "Best answer:" alone are never removed. Kept as the evaluator has it.
VIDEOMME_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                     "The best option isThe correct option is", "Best answer:Best option:")


def videomme_answer(reply: str, options: Sequence[str] = (), rng: np.random.Generator | None = None) -> str | None:
    """Video-MME's rule: the first capital A-D anywhere in the reply after removing answer prefixes.

    Follows `extract_characters_regex` of Video-MME's official `evaluation/eval_your_results.py`
    (BradyFU/Video-MME), which lmms-eval's `tasks/videomme/utils.py` also used until April 2026.
    Case-sensitive and not word-bounded: "b" reads as nothing, "Answer: B" as A, "Don't know" as D.
    (The official script leaves unanswered questions out of its accuracy; lmms-eval counts them wrong.)
    """
    s = _reply(reply).strip()
    for prefix in VIDEOMME_PREFIXES:
        s = s.replace(prefix, "")
    match = re.search(r"[ABCD]", s)
    return match.group(0) if match else None


# lmms-eval's shared multiple-choice extractor (tasks/_task_utils/mcq_extract.py): each way a
# letter can appear is a format with a priority; the highest-priority, then the last, wins.
_MCQ_PHRASES = (
    "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is",
    "best answer is", "the correct option is", "correct option is", "the best option is", "best option is",
    "the choice is", "choice is", "the correct choice is", "correct choice is", "i choose", "i select",
    "i pick", "my answer is", "my choice is", "옵션", "정답은", "답은", "답:", "答案是", "答案为", "选", "答えは",
)
_MCQ_PRIORITY = {"start": 10, "end": 9, "phrase": 7, "parentheses": 6, "period": 5, "colon": 4,
                 "right_paren": 3, "space": 2, "fallback": 0}


def lmms_eval_mcq_answer(reply: str, options: Sequence[str] = (),
                         rng: np.random.Generator | None = None) -> str | None:
    """lmms-eval's current Video-MME rule: ranked letter formats ("B" alone at the start, at the end,
    after "the answer is", "(B)", "B.", "B:", "B)", "B "), the last of the best format winning.

    Follows `extract_mcq_answer` in lmms-eval's `tasks/_task_utils/mcq_extract.py`, which
    `tasks/videomme/utils.py` calls since commit 9ca4445 (April 2026) with choices A-D.
    Case-sensitive: "b" reads as nothing; "Answer: B" reads as B.
    """
    text = _reply(reply).strip()
    if not text:
        return None
    choices = _letters(options) if options else "ABCD"
    for char in ",.!?;:'\"":
        text = text.strip(char)
    text = f" {text} "
    found: list[tuple[int, int, str]] = []  # (priority, position, letter)
    for fmt, template in (("parentheses", "({})"), ("period", "{}."), ("colon", "{}:"),
                          ("right_paren", "{})"), ("space", "{} ")):
        for ch in choices:
            pos = text.rfind(template.format(ch))
            if pos >= 0:
                found.append((_MCQ_PRIORITY[fmt], pos, ch))
    low = text.lower()
    for phrase in _MCQ_PHRASES:
        at = low.find(phrase)
        if at >= 0:
            for ch in choices:
                pos = text.find(ch, at + len(phrase))
                if pos >= 0:
                    found.append((_MCQ_PRIORITY["phrase"], pos, ch))
    bare = text.strip()
    for ch in choices:
        if bare.startswith(ch) and (len(bare) == 1 or not bare[1].isalpha()):
            found.append((_MCQ_PRIORITY["start"], 0, ch))
        if bare.endswith(ch) and (len(bare) == 1 or not bare[-2].isalpha()):
            found.append((_MCQ_PRIORITY["end"], len(text) - 1, ch))
    if not found:
        found = [(_MCQ_PRIORITY["fallback"], text.rfind(ch), ch) for ch in choices if ch in text]
    if not found:
        return None
    # the evaluator sorts (priority, position) descending with a stable sort: first listed wins ties
    best = max(found, key=lambda c: (c[0], c[1]))
    return next(c[2] for c in found if (c[0], c[1]) == (best[0], best[1]))


# -- MVBench -----------------------------------------------------------------------------------------
_MVB_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
              ",", "?", "!")
_MVB_OPTION = re.compile(r"^([A-E])\.\s*(.+)$", re.IGNORECASE)
_MVB_COMMA_NUMBER = re.compile(r"(\d)(,)(\d)")
# the evaluator meant "a period not between digits"; as written, the first group is a lookahead
# that never matches "<=digit", so every period not followed by a digit goes
_MVB_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")


def _mvbench_punctuation(text: str) -> str:
    out = text
    for p in _MVB_PUNCT:
        # decided on the reply as given, applied to the text as it is being rewritten
        if p + " " in text or " " + p in text or _MVB_COMMA_NUMBER.search(text):
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    # the evaluator passes re.UNICODE (32) where re.sub takes its count: at most 32 periods go
    return _MVB_PERIOD.sub("", out, count=32)


def mvbench_answer(reply: str, options: Sequence[str] = (), rng: np.random.Generator | None = None) -> str | None:
    """MVBench's rule: "X. text" at the start, else the first standalone letter A-E, case-insensitive.

    Follows `mcq_acc` in lmms-eval's `tasks/mvbench/utils.py`: the reply is cleaned of punctuation
    (VQA-style), lower-cased and searched for a word-bounded a-e, so "b", "(b)" and "Answer: B"
    all read as B, and "it is a cat" reads as A. Letters run A-E whatever the number of options.
    (Its accuracy leaves empty replies out of the count.)
    """
    text = _reply(reply)
    match = _MVB_OPTION.match(text.strip())
    if match:
        return match.group(1).upper()
    s = text.replace("\n", " ").replace("\t", " ").strip()
    s = _mvbench_punctuation(s)
    s = s.strip("'").strip('"').strip(")").strip("(").strip().lower()
    match = re.search(r"\b([A-E])\b", s, re.IGNORECASE)
    return match.group(1).upper() if match else None


# -- LongVideoBench ----------------------------------------------------------------------------------
LONGVIDEOBENCH_PREFIXES = ("The best answer is", "The correct answer is", "The answer is", "The answer",
                           "The best option is", "The correct option is", "Best answer:", "Best option:")


def longvideobench_answer(reply: str, options: Sequence[str],
                          rng: np.random.Generator | int | None = None) -> str:
    """LongVideoBench's rule: the first capital A-E after answer prefixes, else a random option.

    Follows `parse_multi_choice_response` in lmms-eval's `tasks/longvideobench/utils.py` (as the
    LongVideoBench paper does, an unparseable reply gets a random choice, so a model that never
    answers scores chance, not zero). Case-sensitive and not word-bounded: "Answer: B" reads as A;
    "b" gets a random option. `rng` (a Generator or a seed) draws the guess.
    """
    if not options:
        raise ValueError("longvideobench_answer needs the options (the random guess is drawn among them)")
    s = _reply(reply).strip()
    for prefix in LONGVIDEOBENCH_PREFIXES:
        s = s.replace(prefix, "")
    match = re.search(r"[ABCDE]", s)
    if match:
        return match.group(0)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    letters = _letters(options)
    return letters[int(rng.integers(len(letters)))]


# -- choosing a rule ---------------------------------------------------------------------------------
ANSWER_RULES: dict[str, AnswerRule] = {
    "stepgym": stepgym_answer,
    "videomme": videomme_answer,
    "videomme-lmms-eval": lmms_eval_mcq_answer,
    "mvbench": mvbench_answer,
    "longvideobench": longvideobench_answer,
}
RULE_FOR_SOURCE = {"generated": "stepgym", "videomme": "videomme", "mvbench": "mvbench",
                   "longvideobench": "longvideobench"}


def answer_rule(spec: str | AnswerRule | None, source: str = "generated") -> AnswerRule:
    """The rule `spec` names (a key of ANSWER_RULES, or any callable); None: the rule of `source`."""
    if callable(spec):
        return spec
    name = RULE_FOR_SOURCE.get(source, "stepgym") if spec is None else spec
    if name not in ANSWER_RULES:
        raise ValueError(f"unknown answer rule {name!r}; expected one of {sorted(ANSWER_RULES)} or a callable "
                         "rule(reply, options, rng) -> letter | None")
    return ANSWER_RULES[name]


def rule_name(rule: AnswerRule) -> str:
    """The ANSWER_RULES name of `rule`, or its function name for a user's own rule."""
    for name, fn in ANSWER_RULES.items():
        if fn is rule:
            return name
    return getattr(rule, "__name__", type(rule).__name__)


def _letters(options: Sequence[str]) -> str:
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options are supported, got {len(options)}")
    return LETTERS[: len(options)]


def _reply(reply: object) -> str:
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a str, got {type(reply).__name__}")
    return reply


# -- scores ------------------------------------------------------------------------------------------
def multiple_choice_reward(text: str, answer: str, letters: str = "ABCD") -> float:
    """1.0 when stepgym's rule reads `answer` in the reply, else 0.0.

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
