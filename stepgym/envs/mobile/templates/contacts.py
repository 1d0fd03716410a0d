"""Contacts templates: add, edit, delete, favourite, look up."""

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
from stepgym.envs.mobile.world import digits, fresh_name, fresh_number, pick


def contact(state, name):
    """The contact called `name` (case-insensitive), or None."""
    return next((c for c in state["contacts"] if c["name"].strip().lower() == name.lower()), None)


@register
class ContactsAddContact(Template):
    app = "contacts"

    def params(self, rng, world):
        return {"name": fresh_name(rng, world), "phone": fresh_number(rng, world)}

    def goal(self, p):
        return f"Create a new contact named {p['name']} with the phone number {p['phone']}."

    def check(self, state, p, answer):
        c = contact(state, p["name"])
        return float(c is not None and digits(c["phone"]) == digits(p["phone"]))

    def oracle(self, p):
        return [open_app("Contacts"), tap("fab"), type_in("field:name", p["name"]), type_in("field:phone", p["phone"]), tap("save"), DONE]


@register
class ContactsAddContactFull(Template):
    app = "contacts"
    complexity = 1.5

    def params(self, rng, world):
        name = fresh_name(rng, world)
        return {"name": name, "phone": fresh_number(rng, world), "email": f"{name.split()[0].lower()}.{name.split()[1].lower()}@mail.test"}

    def goal(self, p):
        return f"Add a contact {p['name']}, phone {p['phone']}, email {p['email']}."

    def check(self, state, p, answer):
        c = contact(state, p["name"])
        if c is None:
            return 0.0
        return (1 + (digits(c["phone"]) == digits(p["phone"])) + (c["email"].strip().lower() == p["email"])) / 3

    def oracle(self, p):
        return [open_app("Contacts"), tap("fab"), type_in("field:name", p["name"]), type_in("field:phone", p["phone"]),
                type_in("field:email", p["email"]), tap("save"), DONE]


@register
class ContactsDeleteContact(Template):
    app = "contacts"
    complexity = 1.5

    def params(self, rng, world):
        return {"name": pick(rng, world["contacts"])["name"], "count": len(world["contacts"])}

    def goal(self, p):
        return f"Delete the contact {p['name']}."

    def check(self, state, p, answer):
        return float(contact(state, p["name"]) is None and len(state["contacts"]) == p["count"] - 1)

    def oracle(self, p):
        return [open_app("Contacts"), long_press(f"contact:{p['name']}"), tap("menu:Delete"), tap("dialog:Delete"), DONE]


@register
class ContactsFavorite(Template):
    app = "contacts"
    complexity = 1.5

    def params(self, rng, world):
        return {"name": pick(rng, [c for c in world["contacts"] if not c["favorite"]])["name"]}

    def goal(self, p):
        return f"Add {p['name']} to your favorite contacts."

    def check(self, state, p, answer):
        c = contact(state, p["name"])
        return float(c is not None and c["favorite"])

    def oracle(self, p):
        return [open_app("Contacts"), tap(f"contact:{p['name']}"), tap("fav"), DONE]


@register
class ContactsEditPhone(Template):
    app = "contacts"
    complexity = 1.5

    def params(self, rng, world):
        return {"name": pick(rng, world["contacts"])["name"], "phone": fresh_number(rng, world)}

    def goal(self, p):
        return f"{p['name']} has a new number: change their phone number to {p['phone']}."

    def check(self, state, p, answer):
        c = contact(state, p["name"])
        return float(c is not None and digits(c["phone"]) == digits(p["phone"]))

    def oracle(self, p):
        return [open_app("Contacts"), tap(f"contact:{p['name']}"), tap("edit"), type_in("field:phone", p["phone"], clear=True), tap("save"), DONE]


@register
class ContactsRename(Template):
    app = "contacts"
    complexity = 1.5

    def params(self, rng, world):
        return {"old": pick(rng, world["contacts"])["name"], "new": fresh_name(rng, world)}

    def goal(self, p):
        return f"Rename the contact {p['old']} to {p['new']}."

    def check(self, state, p, answer):
        return float(contact(state, p["new"]) is not None and contact(state, p["old"]) is None)

    def oracle(self, p):
        return [open_app("Contacts"), tap(f"contact:{p['old']}"), tap("edit"), type_in("field:name", p["new"], clear=True), tap("save"), DONE]


@register
class ContactsPhoneLookup(Template):
    app = "contacts"
    retrieval = True

    def params(self, rng, world):
        c = pick(rng, world["contacts"])
        return {"name": c["name"], "answer": c["phone"]}

    def goal(self, p):
        return f"What is {p['name']}'s phone number? Answer with the number."

    def oracle(self, p):
        return [open_app("Contacts"), tap(f"contact:{p['name']}"), answer(p["answer"]), DONE]


@register
class ContactsCountFavorites(Template):
    app = "contacts"
    retrieval = True
    complexity = 1.5

    def params(self, rng, world):
        return {"answer": str(sum(c["favorite"] for c in world["contacts"]))}

    def goal(self, p):
        return "How many of your contacts are marked as favorites? Answer with a number."

    def oracle(self, p):
        return [open_app("Contacts"), {"action_type": "scroll", "direction": "down"}, answer(p["answer"]), DONE]


@register
class ContactsDeleteMissing(Template):
    app = "contacts"
    infeasible = True

    def params(self, rng, world):
        return {"name": fresh_name(rng, world)}

    def goal(self, p):
        return f"Delete the contact {p['name']}. If that is impossible, say the task is infeasible."

    def check(self, state, p, answer):
        return 0.0

    def oracle(self, p):
        return [open_app("Contacts"), {"action_type": "scroll", "direction": "down"}, INFEASIBLE]
