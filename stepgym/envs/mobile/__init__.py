"""A phone of web apps in real Chromium (mobile emulation), AndroidWorld actions and task templates."""

from stepgym.envs.mobile.env import MobileEnv, template_suite
from stepgym.envs.mobile.templates import TEMPLATES, Template, register

__all__ = ["MobileEnv", "template_suite", "TEMPLATES", "Template", "register"]
