"""Built-in environments. Adding one is one `register` line below."""

from stepgym.envs.core import ActionError, Outcome, StepEnv
from stepgym.envs.pool import EnvPool, StepResult
from stepgym.envs.spaces import AnyImage, FreeText
from stepgym.envs.tasks import Task, TaskSuite
from stepgym.registry import register

register("stepgym/Sokoban-v0", "stepgym.envs.sokoban:SokobanEnv",
         kwargs={"levels": "sokoban_6x6_1box", "max_steps": 20},
         description="Sokoban 6x6, one box: text grid + image; the reference env for algorithm work")
register("stepgym/Sokoban-8x8-v0", "stepgym.envs.sokoban:SokobanEnv",
         kwargs={"levels": "sokoban_8x8_2box", "max_steps": 40},
         description="Sokoban 8x8, two boxes: text grid + image")
register("stepgym/Desktop-v0", "stepgym.envs.desktop:DesktopEnv", kwargs={"action_space": "computer_13"},
         description="GUI desktop of web apps in Chromium (files, editor, sheet, mail, settings); OSWorld computer_13 actions")
register("stepgym/Desktop-pyautogui-v0", "stepgym.envs.desktop:DesktopEnv", kwargs={"action_space": "pyautogui"},
         description="The same desktop driven by OSWorld pyautogui code strings (parsed with ast, never executed)")

__all__ = [
    "StepEnv", "ActionError", "Outcome", "FreeText", "AnyImage",
    "Task", "TaskSuite", "EnvPool", "StepResult",
]
