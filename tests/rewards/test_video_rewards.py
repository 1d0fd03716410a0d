import numpy as np
import pytest

from stepgym.rewards.video import (
    ANSWER_RULES,
    RULE_FOR_SOURCE,
    answer_rule,
    extract_answer_letter,
    fraction_in_span,
    lmms_eval_mcq_answer,
    longvideobench_answer,
    multiple_choice_reward,
    mvbench_answer,
    rule_name,
    stepgym_answer,
    strip_answer_prefixes,
    videomme_answer,
)

OPTIONS = ["a red star", "a blue cross", "a green diamond", "a white triangle"]
NO_LETTER = "I am not sure."
RANDOM = "random"  # the evaluator guesses among the options

# What each evaluator reads, worked out from its source (see each rule's docstring):
# Video-MME's official script and LongVideoBench's lmms-eval parser take the first capital letter
# anywhere (so "Answer: B" is the A of "Answer"); MVBench's lmms-eval parser lower-cases and looks
# for a standalone a-e; lmms-eval's current Video-MME extractor ranks letter formats.
EXPECTED = {
    #                    stepgym videomme videomme-lmms-eval mvbench longvideobench
    "B":                ("B",    "B",     "B",              "B",    "B"),
    "(B)":              ("B",    "B",     "B",              "B",    "B"),
    "B. red":           ("B",    "B",     "B",              "B",    "B"),
    "The answer is B":  ("B",    "B",     "B",              "B",    "B"),
    "b":                (None,   None,    None,             "B",    RANDOM),
    "(b)":              (None,   None,    None,             "B",    RANDOM),
    "Answer: B":        ("B",    "A",     "B",              "B",    "A"),
    NO_LETTER:          (None,   None,    None,             None,   RANDOM),
    # quirks a user would trip over, each as the evaluator's source has it
    "Best answer: C":   ("C",    "B",     "C",              "C",    "C"),  # official prefix list lacks a comma
    "Don't know":       (None,   "D",     "D",              None,   "D"),
    "I think it is a cat": (None, None,   None,             "A",    RANDOM),
    "(C) because B is wrong": ("C", "C",  "C",              "C",    "C"),
}
RULES = ["stepgym", "videomme", "videomme-lmms-eval", "mvbench", "longvideobench"]


@pytest.mark.parametrize("reply", list(EXPECTED))
@pytest.mark.parametrize("rule", RULES)
def test_each_rule_reads_replies_as_its_evaluator_does(rule, reply):
    expected = EXPECTED[reply][RULES.index(rule)]
    fn = ANSWER_RULES[rule]
    if expected is RANDOM:
        picks = {fn(reply, OPTIONS, np.random.default_rng(s)) for s in range(40)}
        assert picks == set("ABCD")  # a guess over all four options, never a fixed letter
    else:
        assert fn(reply, OPTIONS, np.random.default_rng(0)) == expected


def test_verdicts_differ_between_benchmarks_on_the_same_reply():
    # the case: MVBench scores "b" right, the Video-MME rule cannot read it
    assert mvbench_answer("b", OPTIONS) == "B" and videomme_answer("b", OPTIONS) is None
    # MVBench reads letters A-E whatever the option count: "E" on a 3-option question is a wrong answer
    assert mvbench_answer("E", OPTIONS[:3]) == "E"
    assert lmms_eval_mcq_answer("", OPTIONS) is None and mvbench_answer("", OPTIONS) is None


def test_longvideobench_guess_is_reproducible_and_covers_five_options():
    five = OPTIONS + ["a cyan star"]
    assert longvideobench_answer("(E)", five) == "E"
    picks = {longvideobench_answer("no idea whatsoever about this one, sorry, really none at all", five, rng=s)
             for s in range(60)}
    assert picks == set("ABCDE")
    assert longvideobench_answer("no idea", five, rng=3) == longvideobench_answer("no idea", five, rng=3)
    with pytest.raises(ValueError, match="needs the options"):
        longvideobench_answer("B", [])


def test_rule_choice_by_source_and_override():
    assert answer_rule(None, "mvbench") is mvbench_answer
    assert answer_rule(None, "generated") is stepgym_answer
    assert answer_rule(None, "someone-elses") is stepgym_answer
    assert answer_rule("videomme", "mvbench") is videomme_answer
    mine = lambda reply, options, rng=None: "A"  # noqa: E731
    assert answer_rule(mine, "mvbench") is mine and rule_name(mine) == "<lambda>"
    assert rule_name(longvideobench_answer) == "longvideobench"
    assert set(RULE_FOR_SOURCE.values()) <= set(ANSWER_RULES)
    with pytest.raises(ValueError, match="unknown answer rule 'mmmu'"):
        answer_rule("mmmu")
    with pytest.raises(TypeError, match="reply must be a str"):
        videomme_answer(None, OPTIONS)


@pytest.mark.parametrize("reply, expected", [
    ("D.", "D"),
    ("The best answer is (B) a red star", "B"),
    ("The correct answer is: C. three flashes", "C"),
    ("Best option: (A)", "A"),
    ("Because the ball bounces twice, C.", "C"),  # the B of "Because" is not an answer
    ("A and then B", "A"),  # the first letter counts
    ("", None),
    ("I cannot tell from these frames which object it was, there is too little to see here.", None),
    ("I cannot tell from these frames which object it was, but I would guess it is C.", "C"),
])
def test_stepgym_rule_on_generated_data(reply, expected):
    assert extract_answer_letter(reply) == expected


def test_letters_limit_the_options():
    assert extract_answer_letter("E", "ABCDE") == "E"
    assert extract_answer_letter("E", "ABCD") is None
    with pytest.raises(ValueError, match="upper-case option letters"):
        extract_answer_letter("A", "abcd")
    with pytest.raises(TypeError, match="must be a str"):
        extract_answer_letter(None)
    assert strip_answer_prefixes("Answer: the blue one") == "the blue one"


def test_reward_and_span_fraction():
    assert multiple_choice_reward("The best answer is C.", "C") == 1.0
    assert multiple_choice_reward("The best answer is C.", "B") == 0.0
    assert multiple_choice_reward("gibberish words", "A") == 0.0
    assert fraction_in_span(np.array([1.0, 2.0, 3.0, 4.0]), (2.0, 4.0)) == 0.5
    assert fraction_in_span([], (0.0, 1.0)) == 0.0
