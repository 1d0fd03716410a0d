"""Settings templates: toggles, a composite travel mode, the device name dialog, About phone."""

from __future__ import annotations

from stepgym.envs.mobile.templates import (
    DONE,
    INFEASIBLE,
    Template,
    answer,
    open_app,
    register,
    tap,
    type_in,
)
from stepgym.envs.mobile.world import SETTING_NAMES, pick


@register
class SettingsToggle(Template):
    app = "settings"

    def params(self, rng, world):
        key = pick(rng, sorted(SETTING_NAMES))
        return {"key": key, "on": not world["settings"][key]}

    def goal(self, p):
        return f"Turn {'on' if p['on'] else 'off'} {SETTING_NAMES[p['key']]}."

    def check(self, state, p, answer):
        return float(state["settings"][p["key"]] == p["on"])

    def oracle(self, p):
        return [open_app("Settings"), tap(f"switch:{p['key']}"), DONE]


@register
class SettingsTravelMode(Template):
    app = "settings"
    complexity = 1.5

    def setup(self, world, p):
        world["settings"].update(airplane=False, bluetooth=True, dnd=False)

    def goal(self, p):
        return "Getting on a plane: turn on Airplane mode and Do Not Disturb, and turn off Bluetooth."

    def check(self, state, p, answer):
        s = state["settings"]
        return (s["airplane"] + s["dnd"] + (not s["bluetooth"])) / 3

    def oracle(self, p):
        return [open_app("Settings"), tap("switch:airplane"), tap("switch:bluetooth"), tap("switch:dnd"), DONE]


@register
class SettingsDeviceName(Template):
    app = "settings"
    complexity = 1.5

    def params(self, rng, world):
        return {"name": f"{pick(rng, ['Blue', 'Quiet', 'Lucky', 'Swift'])} {pick(rng, ['Fox', 'Otter', 'Comet', 'Maple'])}"}

    def goal(self, p):
        return f"Rename this phone (its device name) to \"{p['name']}\"."

    def check(self, state, p, answer):
        return float(state["settings"]["device_name"].strip() == p["name"])

    def oracle(self, p):  # input_text presses Enter, which confirms the dialog
        return [open_app("Settings"), tap("row:device_name"), type_in("field:device_name", p["name"], clear=True), DONE]


@register
class SettingsAndroidVersion(Template):
    app = "settings"
    retrieval = True

    def params(self, rng, world):
        return {"answer": world["about"]["android"]}

    def goal(self, p):
        return "Which Android version does this phone run? Answer with the version number."

    def oracle(self, p):
        return [open_app("Settings"), tap("row:about"), answer(p["answer"]), DONE]


@register
class SettingsBuildNumber(Template):
    app = "settings"
    retrieval = True

    def params(self, rng, world):
        return {"answer": world["about"]["build"]}

    def goal(self, p):
        return "What is this phone's build number?"

    def oracle(self, p):
        return [open_app("Settings"), tap("row:about"), answer(p["answer"]), DONE]


@register
class SettingsNfcInfeasible(Template):
    app = "settings"
    infeasible = True

    def goal(self, p):
        return "Turn on NFC in Settings. If this phone has no such setting, report the task as infeasible."

    def oracle(self, p):
        return [open_app("Settings"), {"action_type": "scroll", "direction": "down"}, INFEASIBLE]
