"""A GUI desktop of web apps in real Chromium, with OSWorld's action spaces, tasks and evaluators."""

from stepgym.envs.desktop.env import DesktopEnv, load_tasks

__all__ = ["DesktopEnv", "load_tasks"]
