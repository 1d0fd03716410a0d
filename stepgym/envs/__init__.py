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
register("stepgym/ToolUse-v0", "stepgym.envs.tooluse:ToolUseEnv", kwargs={"max_steps": 10},
         description="Tool calling (Qwen/Hermes format): sandboxed python, calculator, BM25 search over invented entities")
register("stepgym/WebShop-v0", "stepgym.envs.webshop:WebShopEnv", kwargs={"max_steps": 15},
         description="WebShop: search a 5k-product catalog and buy what the instruction asks (text / text_rich)")
register("stepgym/VideoQA-v0", "stepgym.envs.video:VideoQAEnv", description="Video multiple choice, one turn: question + sampled frames (uniform or Slow-Fast) + the mp4 path")
register("stepgym/VideoSearch-v0", "stepgym.envs.video:VideoSearchEnv", description="Video QA by frame search: ask frames(start, end, n) within a budget, then answer(X)")
register("stepgym/Desktop-v0", "stepgym.envs.desktop:DesktopEnv", kwargs={"action_space": "computer_13"},
         description="GUI desktop of web apps in Chromium (files, editor, sheet, mail, settings); OSWorld computer_13 actions")
register("stepgym/Desktop-pyautogui-v0", "stepgym.envs.desktop:DesktopEnv", kwargs={"action_space": "pyautogui"},
         description="The same desktop driven by OSWorld pyautogui code strings (parsed with ast, never executed)")
register("stepgym/Mobile-v0", "stepgym.envs.mobile:MobileEnv",
         description="Android-style phone of web apps in Chromium (touch); AndroidWorld JSON actions, 39 task templates")
register("stepgym/OfflineSteps-v0", "stepgym.envs.offline_steps:OfflineStepsEnv",
         description="One recorded Mobile-v0/Desktop-v0 step per episode, scored by the offline card's rule (no browser)")

__all__ = [
    "StepEnv", "ActionError", "Outcome", "FreeText", "AnyImage",
    "Task", "TaskSuite", "EnvPool", "StepResult",
]
