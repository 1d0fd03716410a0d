"""`Episode` and `Step` under their older import path; they live in `stepgym.records`.

The record sits in the bottom layer because every layer speaks it (an agent's history is a list
of `Step`s); see docs/architecture.md. `from stepgym.episodes import Episode, Step` stays the
public spelling.
"""

from stepgym.records import Episode, Step

__all__ = ["Episode", "Step"]
