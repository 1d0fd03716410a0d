"""Messages templates: send, reply, delete, mark read, read back."""

from __future__ import annotations

from stepgym.envs.mobile.templates import (
    DONE,
    Template,
    answer,
    long_press,
    open_app,
    register,
    tap,
    type_in,
)
from stepgym.envs.mobile.world import PHRASES, digits, fresh_number, pick


def name_of(world, number):
    """The contact name for a number, or the number itself."""
    return next((c["name"] for c in world["contacts"] if digits(c["phone"]) == digits(number)), number)


def thread_with(state, who):
    """The conversation with a contact name or number, or None."""
    for t in state["threads"]:
        if digits(t["with"]) and digits(t["with"]) == digits(who):
            return t
        if name_of(state, t["with"]).lower() == str(who).lower() or str(t["with"]).lower() == str(who).lower():
            return t
    c = next((c for c in state["contacts"] if c["name"].lower() == str(who).lower()), None)
    return thread_with(state, c["phone"]) if c and c["phone"] and digits(c["phone"]) != digits(who) else None


def sent(state, who, text):
    """Whether the last message to `who` is ours and says `text`."""
    t = thread_with(state, who)
    return bool(t and t["messages"] and t["messages"][-1]["from"] == "me"
                and t["messages"][-1]["text"].strip().lower() == text.lower())


@register
class MessagesSendNew(Template):
    app = "messages"

    def params(self, rng, world):
        have = {digits(t["with"]) for t in world["threads"]}
        c = pick(rng, [c for c in world["contacts"] if digits(c["phone"]) not in have])
        return {"name": c["name"], "text": pick(rng, PHRASES)}

    def goal(self, p):
        return f"Send a text message to {p['name']} saying \"{p['text']}\"."

    def check(self, state, p, answer):
        return float(sent(state, p["name"], p["text"]))

    def oracle(self, p):
        return [open_app("Messages"), tap("fab"), type_in("field:to", p["name"]), type_in("field:body", p["text"]), DONE]


@register
class MessagesReply(Template):
    app = "messages"

    def params(self, rng, world):
        t = pick(rng, world["threads"])
        return {"name": name_of(world, t["with"]), "text": pick(rng, ["On my way", "Sounds good", "Sure, no problem", "Talk soon"])}

    def goal(self, p):
        return f"Reply \"{p['text']}\" in your conversation with {p['name']}."

    def check(self, state, p, answer):
        return float(sent(state, p["name"], p["text"]))

    def oracle(self, p):
        return [open_app("Messages"), tap(f"thread:{p['name']}"), type_in("field:body", p["text"]), DONE]


@register
class MessagesSendToNumber(Template):
    app = "messages"

    def params(self, rng, world):
        return {"number": fresh_number(rng, world), "text": pick(rng, PHRASES)}

    def goal(self, p):
        return f"Text the number {p['number']}: \"{p['text']}\"."

    def check(self, state, p, answer):
        return float(sent(state, p["number"], p["text"]))

    def oracle(self, p):
        return [open_app("Messages"), tap("fab"), type_in("field:to", p["number"]), type_in("field:body", p["text"]), DONE]


@register
class MessagesDeleteThread(Template):
    app = "messages"
    complexity = 1.5

    def params(self, rng, world):
        return {"name": name_of(world, pick(rng, world["threads"])["with"]), "count": len(world["threads"])}

    def goal(self, p):
        return f"Delete your conversation with {p['name']}."

    def check(self, state, p, answer):
        return float(thread_with(state, p["name"]) is None and len(state["threads"]) == p["count"] - 1)

    def oracle(self, p):
        return [open_app("Messages"), long_press(f"thread:{p['name']}"), tap("menu:Delete"), tap("dialog:Delete"), DONE]


@register
class MessagesMarkRead(Template):
    app = "messages"

    def params(self, rng, world):
        return {"name": name_of(world, pick(rng, world["threads"])["with"])}

    def setup(self, world, p):
        thread_with(world, p["name"])["unread"] = 2

    def goal(self, p):
        return f"Mark the conversation with {p['name']} as read."

    def check(self, state, p, answer):
        t = thread_with(state, p["name"])
        return float(t is not None and t["unread"] == 0)

    def oracle(self, p):
        return [open_app("Messages"), long_press(f"thread:{p['name']}"), tap("menu:Mark as read"), DONE]


@register
class MessagesLastReceived(Template):
    app = "messages"
    retrieval = True

    def params(self, rng, world):
        t = pick(rng, world["threads"])
        last = [m for m in t["messages"] if m["from"] == "them"][-1]
        return {"name": name_of(world, t["with"]), "answer": last["text"]}

    def goal(self, p):
        return f"What did {p['name']} last write to you? Answer with the message text."

    def oracle(self, p):
        return [open_app("Messages"), tap(f"thread:{p['name']}"), answer(p["answer"]), DONE]


@register
class MessagesUnreadCount(Template):
    app = "messages"
    retrieval = True

    def params(self, rng, world):
        return {"answer": str(sum(1 for t in world["threads"] if t["unread"]))}

    def goal(self, p):
        return "How many conversations have unread messages? Answer with a number."

    def oracle(self, p):
        return [open_app("Messages"), answer(p["answer"]), DONE]


@register
class MessagesShareNumber(Template):
    app = "messages"
    complexity = 2

    def params(self, rng, world):
        a, b = pick(rng, world["contacts"], 2)
        return {"about": a["name"], "number": a["phone"], "to": b["name"]}

    def goal(self, p):
        return f"Send {p['about']}'s phone number to {p['to']} in a text message (just the number)."

    def check(self, state, p, answer):
        t = thread_with(state, p["to"])
        return float(bool(t and t["messages"] and t["messages"][-1]["from"] == "me"
                          and digits(t["messages"][-1]["text"]) == digits(p["number"])))

    def oracle(self, p):
        return [open_app("Contacts"), tap(f"contact:{p['about']}"), open_app("Messages"), tap("fab"),
                type_in("field:to", p["to"]), type_in("field:body", p["number"]), DONE]
