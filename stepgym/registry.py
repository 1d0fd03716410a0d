"""One-line registration on top of gymnasium's registry, with helpful errors."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any

import gymnasium

# ids registered through `stepgym.register` (built-ins and users'), with a one-line description
_REGISTERED: dict[str, str | None] = {}


class UnknownEnvError(gymnasium.error.NameNotFound):
    """Raised by `make` for an id nobody registered; the message suggests close ids."""


def register(
    id: str,
    entry_point: str | Callable[..., gymnasium.Env],
    *,
    max_episode_steps: int | None = None,
    kwargs: dict[str, Any] | None = None,
    nondeterministic: bool = False,
    description: str | None = None,
) -> None:
    """Register an environment id so that `stepgym.make` / `gymnasium.make` can build it.

    `entry_point` is `"package.module:ClassName"` or a callable returning an env.
    `description` is the one-line text `stepgym envs` shows (default: the first line
    of the entry point's docstring).
    """
    if not isinstance(id, str) or "-v" not in id:
        raise ValueError(f"env id must look like 'namespace/Name-vN' (a version is required), got {id!r}")
    gymnasium.register(
        id=id,
        entry_point=entry_point,
        max_episode_steps=max_episode_steps,
        kwargs=dict(kwargs or {}),
        nondeterministic=nondeterministic,
        disable_env_checker=False,
    )
    _REGISTERED[id] = description


def list_envs() -> list[str]:
    """Sorted ids registered through `stepgym.register` (stepgym's own and users')."""
    return sorted(_REGISTERED)


def describe(id: str) -> str:
    """The one-line description of a registered id."""
    if _REGISTERED.get(id):
        return _REGISTERED[id]  # type: ignore[return-value]
    spec = gymnasium.spec(id)
    ep = spec.entry_point
    obj: Any = ep
    if isinstance(ep, str):
        module, _, attr = ep.partition(":")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            return ""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _import_for(id: str) -> str:
    """Import `module` for ids written `module:Name-vN` (gymnasium's convention); return the bare id."""
    if ":" in id:
        module, _, env_name = id.partition(":")
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise UnknownEnvError(
                f"could not import module {module!r} named in env id {id!r}: {exc}"
            ) from exc
        return env_name
    return id


def make(id: str, **kwargs: Any) -> gymnasium.Env:
    """Build a registered environment (like `gymnasium.make`); unknown ids suggest close names."""
    env_id = _import_for(id)
    if env_id not in gymnasium.registry:
        known = list(gymnasium.registry)
        close = difflib.get_close_matches(env_id, known, n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownEnvError(
            f"Environment {env_id!r} is not registered.{hint} "
            f"`stepgym.list_envs()` lists stepgym's ids; register your own with stepgym.register(...)."
        )
    return gymnasium.make(env_id, **kwargs)
