"""GUI grounding: model coordinates <-> screen pixels for Qwen2.5-VL (absolute) and Qwen2-VL (0-1000)."""

from __future__ import annotations

import numpy as np
import pytest

from stepgym.agents.base import AgentInput
from stepgym.agents.grounding import Grounding, parse_point, smart_resize
from stepgym.agents.prompting import PromptConfig, build_messages, vision_inputs


def test_qwen25_absolute_pixels_on_the_resized_image():
    # 1920x1080 within 1024*28*28 pixels -> resized to 1148x644 (multiples of 28)
    g = Grounding(1920, 1080, "qwen2.5-vl", min_pixels=4 * 28 * 28, max_pixels=1024 * 28 * 28)
    w, h = g.model_size
    assert (w % 28, h % 28) == (0, 0) and w * h <= 1024 * 28 * 28
    assert g.to_screen(w / 2, h / 2) == (960, 540)
    assert g.to_screen(0, 0) == (0, 0)
    assert g.to_screen(w, h) == (1919, 1079)  # clamped inside the screen
    assert g.to_screen(w / 4, h / 4) == (480, 270)


def test_qwen2_relative_thousandths():
    g = Grounding(1920, 1080, "qwen2-vl")
    assert g.model_size == (1000, 1000)
    assert g.to_screen(500, 500) == (960, 540)
    assert g.to_screen(250, 100) == (480, 108)
    assert g.from_screen(960, 540) == (500, 500)


@pytest.mark.parametrize("system", ["qwen2.5-vl", "qwen2-vl"])
def test_round_trip_lands_within_one_model_unit(system):
    g = Grounding(1366, 768, system, max_pixels=256 * 28 * 28)
    mw, mh = g.model_size
    sx_per_unit, sy_per_unit = 1366 / mw, 768 / mh
    rng = np.random.default_rng(0)
    for x, y in rng.integers(0, [1366, 768], size=(200, 2)):
        bx, by = g.to_screen(*g.from_screen(x, y))
        assert abs(bx - x) <= sx_per_unit + 1 and abs(by - y) <= sy_per_unit + 1


def test_grounding_matches_the_image_the_model_sees():
    """The resized size Grounding assumes is the size qwen-vl-utils actually gives the model."""
    prompt = PromptConfig(max_pixels=100 * 28 * 28)
    screen = np.zeros((700, 1000, 3), np.uint8)
    inp = AgentInput(0, {"text": "s", "image": screen}, {}, "do", "click(x, y)")
    images, _, _ = vision_inputs(build_messages(inp, prompt))
    assert Grounding.for_prompt(1000, 700, prompt).model_size == images[0].size
    assert smart_resize(700, 1000, prompt.min_pixels, prompt.max_pixels) == images[0].size[::-1]


def test_parse_point():
    assert parse_point('{"action": "click", "coordinate": [120, 45]}') == (120.0, 45.0)
    assert parse_point("click(3.5, 4)") == (3.5, 4.0)
    assert parse_point("<|box_start|>(10,20),(30,40)<|box_end|> [10, 20, 30, 40]") == (20.0, 30.0)
    with pytest.raises(ValueError, match="expected a point"):
        parse_point("click the button")
    with pytest.raises(ValueError, match="coordinate system"):
        Grounding(10, 10, "qwen3")
