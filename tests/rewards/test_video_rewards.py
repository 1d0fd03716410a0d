import numpy as np
import pytest

from stepgym.rewards.video import (
    extract_answer_letter,
    fraction_in_span,
    longvideobench_answer,
    multiple_choice_reward,
    strip_answer_prefixes,
)


@pytest.mark.parametrize("reply, expected", [
    ("B", "B"),
    ("(C)", "C"),
    ("D.", "D"),
    ("The best answer is A", "A"),
    ("The best answer is (B) a red star", "B"),
    ("The correct answer is: C. three flashes", "C"),
    ("Answer: D", "D"),
    ("Best option: (A)", "A"),
    ("  b  ", None),  # lower case is not an option letter
    ("Because the ball bounces twice, C.", "C"),  # the B of "Because" is not an answer
    ("A and then B", "A"),  # the first letter counts
    ("", None),
    ("I cannot tell from these frames which object it was, there is too little to see here.", None),
    ("I cannot tell from these frames which object it was, but I would guess it is C.", "C"),
])
def test_extract_answer_letter(reply, expected):
    assert extract_answer_letter(reply) == expected


def test_letters_limit_the_options():
    assert extract_answer_letter("E", "ABCDE") == "E"
    assert extract_answer_letter("E", "ABCD") is None
    with pytest.raises(ValueError, match="upper-case option letters"):
        extract_answer_letter("A", "abcd")
    with pytest.raises(TypeError, match="must be a str"):
        extract_answer_letter(None)


def test_prefixes_are_stripped():
    assert strip_answer_prefixes("The best answer is B") == "B"
    assert strip_answer_prefixes("Answer: the blue one") == "the blue one"


def test_longvideobench_falls_back_to_option_text_then_random():
    options = ["a red star", "a blue cross", "a green diamond", "a white triangle", "a cyan star"]
    assert longvideobench_answer("(E)", options) == "E"
    assert longvideobench_answer("It looked like a green diamond to me.", options) == "C"
    # unparseable: a random option, reproducible with the seed, spread over all five
    picks = {longvideobench_answer("no idea whatsoever about this one, sorry, really none at all", options, rng=s)
             for s in range(40)}
    assert picks == set("ABCDE")
    assert longvideobench_answer("no idea", options, rng=3) == longvideobench_answer("no idea", options, rng=3)


def test_reward_and_span_fraction():
    assert multiple_choice_reward("The best answer is C.", "C") == 1.0
    assert multiple_choice_reward("The best answer is C.", "B") == 0.0
    assert multiple_choice_reward("gibberish words", "A") == 0.0
    assert fraction_in_span(np.array([1.0, 2.0, 3.0, 4.0]), (2.0, 4.0)) == 0.5
    assert fraction_in_span([], (0.0, 1.0)) == 0.0
