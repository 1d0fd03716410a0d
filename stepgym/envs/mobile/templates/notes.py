"""Notes templates: create, edit, rename, pin, delete, read."""

from __future__ import annotations

from stepgym.envs.mobile.templates import (
    DONE,
    Template,
    answer,
    double_tap,
    long_press,
    open_app,
    register,
    tap,
    type_in,
)
from stepgym.envs.mobile.world import WORDS, pick


def note(state, title):
    return next((n for n in state["notes"] if n["title"].strip().lower() == title.lower()), None)


def fresh_title(rng, world):
    taken = {n["title"].lower() for n in world["notes"]}
    return pick(rng, [w.capitalize() + " list" for w in WORDS if w + " list" not in taken])


@register
class NotesCreate(Template):
    app = "notes"

    def params(self, rng, world):
        return {"title": fresh_title(rng, world), "body": pick(rng, ["Buy stamps and envelopes", "Book the dentist", "Water the plants", "Renew passport"])}

    def goal(self, p):
        return f"Create a note titled \"{p['title']}\" with the text \"{p['body']}\"."

    def check(self, state, p, answer):
        n = note(state, p["title"])
        return 0.0 if n is None else (1 + (n["body"].strip().lower() == p["body"].lower())) / 2

    def oracle(self, p):
        return [open_app("Notes"), tap("fab"), type_in("field:title", p["title"]), type_in("field:body", p["body"]), tap("save"), DONE]


@register
class NotesDelete(Template):
    app = "notes"
    complexity = 1.5

    def params(self, rng, world):
        return {"title": pick(rng, world["notes"])["title"], "count": len(world["notes"])}

    def goal(self, p):
        return f"Delete the note \"{p['title']}\"."

    def check(self, state, p, answer):
        return float(note(state, p["title"]) is None and len(state["notes"]) == p["count"] - 1)

    def oracle(self, p):
        return [open_app("Notes"), long_press(f"note:{p['title']}"), tap("menu:Delete"), tap("dialog:Delete"), DONE]


@register
class NotesPin(Template):
    app = "notes"

    def params(self, rng, world):
        return {"title": pick(rng, [n for n in world["notes"] if not n["pinned"]])["title"]}

    def goal(self, p):
        return f"Pin the note \"{p['title']}\" to the top."

    def check(self, state, p, answer):
        n = note(state, p["title"])
        return float(n is not None and n["pinned"])

    def oracle(self, p):
        return [open_app("Notes"), long_press(f"note:{p['title']}"), tap("menu:Pin"), DONE]


@register
class NotesUnpin(Template):
    app = "notes"

    def params(self, rng, world):
        return {"title": next(n for n in world["notes"] if n["pinned"])["title"]}

    def goal(self, p):
        return f"Unpin the note \"{p['title']}\"."

    def check(self, state, p, answer):
        n = note(state, p["title"])
        return float(n is not None and not n["pinned"])

    def oracle(self, p):  # the editor's pin line answers a double tap
        return [open_app("Notes"), tap(f"note:{p['title']}"), double_tap("pinhint"), DONE]


@register
class NotesReplaceBody(Template):
    app = "notes"
    complexity = 1.5

    def params(self, rng, world):
        n = pick(rng, world["notes"])
        return {"title": n["title"], "body": f"{n['body']} and {pick(rng, ['call Sam', 'pay the bill', 'buy bread'])}"}

    def goal(self, p):
        return f"Change the text of the note \"{p['title']}\" to \"{p['body']}\"."

    def check(self, state, p, answer):
        n = note(state, p["title"])
        return float(n is not None and n["body"].strip().lower() == p["body"].lower())

    def oracle(self, p):
        return [open_app("Notes"), tap(f"note:{p['title']}"), type_in("field:body", p["body"], clear=True), tap("save"), DONE]


@register
class NotesRename(Template):
    app = "notes"
    complexity = 1.5

    def params(self, rng, world):
        return {"old": pick(rng, world["notes"])["title"], "new": fresh_title(rng, world)}

    def goal(self, p):
        return f"Rename the note \"{p['old']}\" to \"{p['new']}\"."

    def check(self, state, p, answer):
        return float(note(state, p["new"]) is not None and note(state, p["old"]) is None)

    def oracle(self, p):
        return [open_app("Notes"), tap(f"note:{p['old']}"), type_in("field:title", p["new"], clear=True), tap("save"), DONE]


@register
class NotesReadBody(Template):
    app = "notes"
    retrieval = True

    def params(self, rng, world):
        n = pick(rng, world["notes"])
        return {"title": n["title"], "answer": n["body"]}

    def goal(self, p):
        return f"What does the note \"{p['title']}\" say? Answer with its text."

    def oracle(self, p):
        return [open_app("Notes"), tap(f"note:{p['title']}"), answer(p["answer"]), DONE]
