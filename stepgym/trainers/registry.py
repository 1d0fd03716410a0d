"""Name -> component registries: the one dispatch point for estimators, losses and rollout strategies.

`TrainConfig` names a component by string (`estimator="gigpo"`, `loss="ppo"`, `rollout="groups"`);
the trainer looks it up here and nowhere else. Adding one is a function or class in its own file
plus one registration line:

    from stepgym.trainers import ESTIMATORS

    @ESTIMATORS.register("my_estimator")
    def my_estimator(batch, cfg):  # -> [S] advantages, one per step row
        ...
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Components of one kind, by name; unknown names fail with the list of known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Decorator registering its target under `name` (a second registration of a name fails
        unless `overwrite=True`, so two components cannot silently shadow each other)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} names must be non-empty strings, got {name!r}")

        def add(item: T) -> T:
            if name in self._items and not overwrite and self._items[name] is not item:
                raise ValueError(f"{self.kind} {name!r} is already registered ({self._items[name]!r}); "
                                 "pass overwrite=True to replace it")
            self._items[name] = item
            doc = (getattr(item, "description", None) or getattr(item, "__doc__", None) or "").strip()
            self._docs[name] = doc.splitlines()[0] if doc else ""
            return item

        return add

    def unregister(self, name: str) -> T:
        """Remove and return a registered component (tests, or replacing a built-in for a session)."""
        self.get(name)
        self._docs.pop(name)
        return self._items.pop(name)

    def get(self, name: str) -> T:
        """The component registered as `name`; a ValueError naming the known ones otherwise."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._items), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._items))}.{hint}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def describe(self, name: str) -> str:
        """First docstring line of a registered component."""
        self.get(name)
        return self._docs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
