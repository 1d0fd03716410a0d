"""Clock templates: add, label, toggle, edit, delete alarms; read the earliest one."""

from __future__ import annotations

from stepgym.envs.mobile.templates import (
    DONE,
    INFEASIBLE,
    Template,
    answer,
    long_press,
    open_app,
    register,
    tap,
    type_in,
)
from stepgym.envs.mobile.world import LABELS, pick


def hm(h, m):
    return f"{h:02d}:{m:02d}"


def alarm_at(state, h, m):
    return next((a for a in state["alarms"] if a["hour"] == h and a["minute"] == m), None)


def free_time(rng, world):
    taken = {(a["hour"], a["minute"]) for a in world["alarms"]}
    while True:
        t = (int(rng.integers(0, 24)), int(rng.choice([0, 5, 10, 20, 25, 35, 40, 50, 55])))
        if t not in taken:
            return t


def new_alarm_steps(h, m, label=None):
    steps = [open_app("Clock"), tap("fab"), type_in("field:hour", str(h)), type_in("field:minute", f"{m:02d}")]
    if label:
        steps.append(type_in("field:label", label))
    return steps + [tap("save"), DONE]


@register
class ClockAddAlarm(Template):
    app = "clock"

    def params(self, rng, world):
        h, m = free_time(rng, world)
        return {"hour": h, "minute": m}

    def goal(self, p):
        return f"Set a new alarm for {hm(p['hour'], p['minute'])}."

    def check(self, state, p, answer):
        a = alarm_at(state, p["hour"], p["minute"])
        return float(a is not None and a["enabled"])

    def oracle(self, p):
        return new_alarm_steps(p["hour"], p["minute"])


@register
class ClockAddLabelledAlarm(Template):
    app = "clock"

    def params(self, rng, world):
        h, m = free_time(rng, world)
        return {"hour": h, "minute": m, "label": pick(rng, ["Pick up kids", "Take pills", "Call mom", "Stretch"])}

    def goal(self, p):
        return f"Create an alarm at {hm(p['hour'], p['minute'])} labelled \"{p['label']}\"."

    def check(self, state, p, answer):
        a = alarm_at(state, p["hour"], p["minute"])
        return 0.0 if a is None else (1 + (a["label"].strip().lower() == p["label"].lower())) / 2

    def oracle(self, p):
        return new_alarm_steps(p["hour"], p["minute"], p["label"])


@register
class ClockToggleAlarm(Template):
    app = "clock"

    def params(self, rng, world):
        a = pick(rng, world["alarms"])
        return {"hour": a["hour"], "minute": a["minute"], "on": not a["enabled"]}

    def goal(self, p):
        return f"Turn {'on' if p['on'] else 'off'} the {hm(p['hour'], p['minute'])} alarm."

    def check(self, state, p, answer):
        a = alarm_at(state, p["hour"], p["minute"])
        return float(a is not None and a["enabled"] == p["on"])

    def oracle(self, p):
        return [open_app("Clock"), tap(f"switch:{hm(p['hour'], p['minute'])}"), DONE]


@register
class ClockDisableAll(Template):
    app = "clock"
    complexity = 1.5

    def setup(self, world, p):
        for a in world["alarms"]:
            a["enabled"] = True

    def goal(self, p):
        return "Turn off every alarm."

    def check(self, state, p, answer):
        alarms = state["alarms"]
        return sum(not a["enabled"] for a in alarms) / len(alarms) if alarms else 0.0

    def oracle(self, p):
        return [open_app("Clock"), *[tap(f"switch:{k}") for k in p["times"]], DONE]

    def params(self, rng, world):
        return {"times": [hm(a["hour"], a["minute"]) for a in world["alarms"]]}


@register
class ClockDeleteAlarm(Template):
    app = "clock"

    def params(self, rng, world):
        a = pick(rng, world["alarms"])
        return {"hour": a["hour"], "minute": a["minute"], "count": len(world["alarms"])}

    def goal(self, p):
        return f"Delete the alarm set for {hm(p['hour'], p['minute'])}."

    def check(self, state, p, answer):
        return float(alarm_at(state, p["hour"], p["minute"]) is None and len(state["alarms"]) == p["count"] - 1)

    def oracle(self, p):
        return [open_app("Clock"), long_press(f"alarm:{hm(p['hour'], p['minute'])}"), tap("menu:Delete"), DONE]


@register
class ClockMoveAlarm(Template):
    app = "clock"
    complexity = 1.5

    def params(self, rng, world):
        a = pick(rng, world["alarms"])
        h, m = free_time(rng, world)
        return {"old": hm(a["hour"], a["minute"]), "label": a["label"], "hour": h, "minute": m, "count": len(world["alarms"])}

    def goal(self, p):
        return f"Move the {p['old']} alarm to {hm(p['hour'], p['minute'])}."

    def check(self, state, p, answer):
        return float(alarm_at(state, p["hour"], p["minute"]) is not None and len(state["alarms"]) == p["count"])

    def oracle(self, p):
        return [open_app("Clock"), tap(f"alarm:{p['old']}"), type_in("field:hour", str(p["hour"]), clear=True),
                type_in("field:minute", f"{p['minute']:02d}", clear=True), tap("save"), DONE]


@register
class ClockEarliestAlarm(Template):
    app = "clock"
    retrieval = True

    def setup(self, world, p):
        world["alarms"][-1]["enabled"] = True  # at least one alarm is on

    def params(self, rng, world):
        on = [a for a in world["alarms"][:-1] if a["enabled"]] + [world["alarms"][-1]]
        first = min(on, key=lambda a: (a["hour"], a["minute"]))
        return {"answer": hm(first["hour"], first["minute"])}

    def goal(self, p):
        return "What time is the earliest alarm that is switched on? Answer as HH:MM."

    def oracle(self, p):
        return [open_app("Clock"), answer(p["answer"]), DONE]


@register
class ClockLabelLookup(Template):
    app = "clock"
    retrieval = True

    def params(self, rng, world):
        a = pick(rng, world["alarms"])
        return {"time": hm(a["hour"], a["minute"]), "answer": a["label"]}

    def goal(self, p):
        return f"What is the label of the {p['time']} alarm?"

    def oracle(self, p):
        return [open_app("Clock"), answer(p["answer"]), DONE]


@register
class ClockImpossibleTime(Template):
    app = "clock"
    infeasible = True

    def params(self, rng, world):
        return {"hour": int(rng.integers(24, 30)), "minute": int(rng.integers(60, 90)), "label": pick(rng, LABELS)}

    def goal(self, p):
        return f"Set a \"{p['label']}\" alarm for {p['hour']}:{p['minute']}. If that cannot be done, report the task as infeasible."

    def oracle(self, p):
        return [open_app("Clock"), INFEASIBLE]
