"""Parsing OSWorld's action spaces: no browser, no code ever executed."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepgym.envs.core import ActionError
from stepgym.envs.desktop import actions as A

VP = (1280, 720)


def test_computer13_text_and_dicts():
    assert A.parse_computer13('{"action_type": "CLICK", "x": 10, "y": 20}', VP) == {
        "action_type": "CLICK", "x": 10, "y": 20, "button": "left", "num_clicks": 1}
    fenced = '```json\n{"action_type": "HOTKEY", "keys": ["ctrl", "s"]}\n```'
    assert A.parse_computer13(fenced, VP) == {"action_type": "HOTKEY", "keys": ["ctrl", "s"]}
    assert A.parse_computer13("done", VP) == {"action_type": "DONE"}
    assert A.parse_computer13({"action_type": "typing", "text": "hi"}, VP) == {"action_type": "TYPING", "text": "hi"}


@pytest.mark.parametrize(("action", "message"), [
    ('{"action_type": "CLICK", "x": 5000, "y": 20}', r"off the screen; x must be in \[0, 1279\]"),
    ('{"action_type": "JUMP"}', "action_type must be one of MOVE_TO, CLICK"),
    ('{"action_type": "PRESS", "key": "hyper"}', "unknown key 'hyper'"),
    ('{"action_type": "CLICK", "x": 1}', "needs both x and y"),
    ('{"action_type": "TYPING", "text": ""}', "TYPING needs a non-empty string"),
    ('{"action_type": "CLICK", "x": 1, "y": 2, "button": "fourth"}', "button must be one of left, right, middle"),
    ("click the button", "expected a computer_13 JSON action"),
    ('{"action_type": "CLICK", "x": 1,', "expected a computer_13 JSON action"),
    ('{"action_type": "SCROLL", "dy": 1e9}', "wheel clicks"),
])
def test_computer13_errors_name_what_was_expected(action, message):
    with pytest.raises(ActionError, match=message):
        A.parse_computer13(action, VP)


def test_pyautogui_calls_map_to_canonical_actions():
    code = "import pyautogui\npyautogui.click(100, 200)\npyautogui.write('hi')\npyautogui.hotkey('ctrl', 's')\ntime.sleep(0.5)"
    got = A.parse_pyautogui(code, VP)["actions"]
    assert got == [
        {"action_type": "CLICK", "x": 100, "y": 200, "button": "left", "num_clicks": 1},
        {"action_type": "TYPING", "text": "hi"},
        {"action_type": "HOTKEY", "keys": ["ctrl", "s"]},
        {"action_type": "WAIT"},
    ]
    assert A.parse_pyautogui("pyautogui.doubleClick(x=5, y=6)", VP)["actions"][0]["num_clicks"] == 2
    assert A.parse_pyautogui("pyautogui.rightClick(5, 6)", VP)["actions"][0]["button"] == "right"
    assert A.parse_pyautogui("pyautogui.press(['tab', 'enter'])", VP)["actions"] == [
        {"action_type": "PRESS", "key": "tab"}, {"action_type": "PRESS", "key": "enter"}]
    assert A.parse_pyautogui("pyautogui.scroll(-3, x=10, y=10)", VP)["actions"][-1] == {"action_type": "SCROLL", "dx": 0, "dy": -3}
    assert A.parse_pyautogui("FAIL", VP)["actions"] == [{"action_type": "FAIL"}]


@pytest.mark.parametrize("code", [
    "__import__('os').system('touch /tmp/stepgym_pwned')",
    "import os\nos.system('ls')",
    "pyautogui.click(__import__('os').getpid(), 1)",
    "pyautogui.write(open('/etc/passwd').read())",
    "exec('print(1)')",
    "eval('1+1')",
    "x = 1",
    "for i in range(3): pyautogui.click(1, 1)",
    "pyautogui.click(*[1, 2])",
    "pyautogui.click(**{'x': 1, 'y': 2})",
    "subprocess.run(['ls'])",
    "pyautogui.screenshot('/tmp/x.png')",
    "pyautogui.click(1, 2).__class__",
    "lambda: 1",
    "pyautogui.__dict__",
])
def test_malicious_or_unsupported_pyautogui_is_rejected(code):
    with pytest.raises(ActionError):
        A.parse_pyautogui(code, VP)


def test_every_canonical_action_survives_the_pyautogui_round_trip():
    for a in [
        {"action_type": "CLICK", "x": 3, "y": 4, "button": "left", "num_clicks": 1},
        {"action_type": "CLICK", "x": 3, "y": 4, "button": "left", "num_clicks": 2},
        {"action_type": "MOVE_TO", "x": 3, "y": 4}, {"action_type": "DRAG_TO", "x": 30, "y": 40},
        {"action_type": "TYPING", "text": "it's \"quoted\"\n"}, {"action_type": "PRESS", "key": "enter"},
        {"action_type": "HOTKEY", "keys": ["ctrl", "shift", "s"]}, {"action_type": "SCROLL", "dx": 0, "dy": -2},
        {"action_type": "KEY_DOWN", "key": "shift"}, {"action_type": "MOUSE_UP", "button": "left"},
    ]:
        assert A.parse_pyautogui(A.to_pyautogui(a), VP)["actions"] == [a]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_any_text_parses_or_raises_action_error(text):
    for parse in (A.parse_computer13, A.parse_pyautogui):
        try:
            out = parse(text, VP)
        except ActionError as exc:
            assert str(exc) and "\n" not in str(exc).splitlines()[0]
        else:
            json.dumps(out)
