"""The phone's starting data (contacts, conversations, alarms, notes, settings) drawn from a seed."""

from __future__ import annotations

import copy
import re
from typing import Any

import numpy as np

FIRST = ["Alice", "Bruno", "Chloe", "Dmitri", "Elena", "Farah", "Gustav", "Hana", "Ivan", "Jonas", "Keiko",
         "Leon", "Maya", "Nadia", "Oscar", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Viktor", "Wen", "Yara"]
LAST = ["Abbott", "Brooks", "Castillo", "Duarte", "Eriksen", "Fischer", "Goldberg", "Haddad", "Ibarra", "Jensen",
        "Kowalski", "Laurent", "Moreau", "Novak", "Okafor", "Petrov", "Quint", "Rossi", "Suzuki", "Tanaka"]
PHRASES = ["See you at the station", "Can you call me back?", "Running ten minutes late", "Dinner at eight works",
           "Did you get the tickets?", "Happy birthday!", "The meeting moved to Tuesday", "Bring the blue folder",
           "I left my keys at yours", "Thanks for the photos", "Lunch tomorrow?", "The package arrived",
           "Let's go hiking on Sunday", "Can you feed the cat?", "Call the plumber please", "Great game last night"]
WORDS = ["garden", "invoice", "piano", "recipe", "budget", "travel", "books", "repair", "gift", "workout",
         "movie", "packing", "meeting", "paint", "camera", "tax"]
LABELS = ["Work", "Gym", "Medicine", "School run", "Meeting", "Yoga", "Bus", "Laundry"]
SETTING_NAMES = {"wifi": "Wi-Fi", "airplane": "Airplane mode", "bluetooth": "Bluetooth", "location": "Location",
                 "dnd": "Do Not Disturb", "dark": "Dark theme"}


def pick(rng: np.random.Generator, items: list[Any], k: int | None = None) -> Any:
    """One item (or k distinct items) drawn with `rng`."""
    if k is None:
        return items[int(rng.integers(len(items)))]
    return [items[int(i)] for i in rng.choice(len(items), size=k, replace=False)]


def phone_number(rng: np.random.Generator) -> str:
    """A made-up number like 555-0142 (the 555-01xx range is reserved for fiction)."""
    return f"555-01{int(rng.integers(100)):02d}"


def digits(text: Any) -> str:
    """Only the digits of `text`."""
    return re.sub(r"\D", "", str(text or ""))


def make_world(rng: np.random.Generator) -> dict[str, Any]:
    """A full phone state: 14 contacts (more than one screen), 5 conversations, 4 alarms, 5 notes."""
    names = sorted({f"{f} {s}" for f, s in zip(pick(rng, FIRST, 14), pick(rng, LAST, 14))})
    numbers = [f"555-01{n:02d}" for n in rng.choice(100, size=len(names), replace=False)]
    contacts = [{"id": i + 1, "name": n, "phone": numbers[i], "email": f"{n.split()[0].lower()}@example.com",
                 "favorite": bool(rng.random() < 0.25)} for i, n in enumerate(names)]
    threads = []
    for j, c in enumerate(pick(rng, contacts, 5)):
        msgs = [{"from": "them" if k % 2 == 0 else "me", "text": t} for k, t in enumerate(pick(rng, PHRASES, 1 + int(rng.integers(3))))]
        if msgs[-1]["from"] == "me":
            msgs.append({"from": "them", "text": pick(rng, PHRASES)})
        threads.append({"id": 100 + j, "with": c["phone"], "messages": msgs, "unread": int(rng.integers(0, 3))})
    times = sorted({(int(rng.integers(5, 23)), int(rng.choice([0, 15, 30, 45]))) for _ in range(4)})
    alarms = [{"id": 200 + k, "hour": h, "minute": m, "label": pick(rng, LABELS), "enabled": bool(rng.random() < 0.6)}
              for k, (h, m) in enumerate(times)]
    titles = pick(rng, WORDS, 5)
    notes = [{"id": 300 + k, "title": t.capitalize(), "body": f"{pick(rng, ['Remember', 'Check', 'Ask about', 'Plan'])} the {t} {pick(rng, ['today', 'on Friday', 'next week', 'soon'])}",
              "pinned": k == 0} for k, t in enumerate(titles)]
    settings = {"wifi": True, "airplane": False, "bluetooth": bool(rng.random() < 0.5), "location": bool(rng.random() < 0.5),
                "dnd": False, "dark": False, "device_name": "Pixel 7"}
    about = {"model": "Pixel 7", "android": str(pick(rng, ["13", "14", "15"])), "build": f"UQ1A.{int(rng.integers(230101, 241231))}.004"}
    return {"contacts": contacts, "threads": threads, "alarms": alarms, "notes": notes, "settings": settings, "about": about}


def fresh_name(rng: np.random.Generator, world: dict[str, Any]) -> str:
    """A person's name that no contact has yet."""
    taken = {c["name"] for c in world["contacts"]}
    while True:
        name = f"{pick(rng, FIRST)} {pick(rng, LAST)}"
        if name not in taken:
            return name


def fresh_number(rng: np.random.Generator, world: dict[str, Any]) -> str:
    """A phone number that no contact has."""
    taken = {digits(c["phone"]) for c in world["contacts"]}
    while True:
        number = f"555-02{int(rng.integers(100)):02d}"
        if digits(number) not in taken:
            return number


def copy_world(world: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (templates edit their copy)."""
    return copy.deepcopy(world)
