"""What a protocol card is: the declared conventions of one benchmark under one scoring protocol.

The cards themselves live beside their code in `protocols/` and are collected in `cards.py`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: status of a cited convention
VERIFIED, THIRD_PARTY, OURS, UNVERIFIED = "verified", "3rd-party", "stepgym's choice", "unverified"


@dataclass(frozen=True)
class Source:
    """Where a convention comes from."""

    ref: str  # "google-research/google-research android_in_the_wild/action_matching.py @1d49f2c"
    what: str  # what was read there
    status: str = VERIFIED


@dataclass(frozen=True)
class ProtocolCard:
    """One benchmark under one scoring protocol."""

    benchmark: str
    protocol: str
    title: str
    summary: str
    action_space: Mapping[str, str]  # native action -> its stepgym JSON equivalent
    rules: Mapping[str, str]  # native action type -> how a prediction is judged
    params: type  # frozen dataclass of thresholds; its defaults are the published values
    splits: Mapping[str, str]
    levels: Mapping[str, str]
    metrics: Mapping[str, str]  # report.json metric name -> how it is computed
    sources: tuple[Source, ...]
    data_layout: str  # what DATA_DIR must hold
    adapter: Any = field(default=None, repr=False, compare=False)  # protocols.base.Adapter

    @property
    def name(self) -> str:
        return f"{self.benchmark}-{self.protocol}"

    def make_params(self, overrides: Mapping[str, Any] | None = None) -> Any:
        """The card's thresholds with `overrides` applied; unknown names are rejected by name."""
        names = {f.name for f in dataclasses.fields(self.params)}
        unknown = set(overrides or {}) - names
        if unknown:
            raise ValueError(f"unknown parameter(s) {sorted(unknown)} for card {self.name}; "
                             f"it has: {', '.join(sorted(names))}")
        return self.params(**dict(overrides or {}))

    def default_params(self) -> dict[str, Any]:
        """{name: published default}."""
        return {f.name: f.default for f in dataclasses.fields(self.params)}

    def markdown(self) -> str:
        """The card as a Markdown section."""
        out = [f"## `{self.benchmark}` / `{self.protocol}`: {self.title}", "", self.summary, "",
               f"**Data** (`DATA_DIR`): {self.data_layout}", "", "**Action space** (native → stepgym JSON):", ""]
        out += [f"- `{k}` → {v}" for k, v in self.action_space.items()]
        out += ["", "**Matching rule per action type:**", ""]
        out += [f"- `{k}`: {v}" for k, v in self.rules.items()]
        out += ["", "**Parameters** (published defaults; override with `--set name=value`):", ""]
        for f in dataclasses.fields(self.params):
            doc = _field_doc(self.params, f.name)
            out.append(f"- `{f.name}` = `{f.default!r}`: {doc}")
        out += ["", "**Splits:**", ""] + [f"- `{k}`: {v}" for k, v in self.splits.items()]
        if self.levels:
            out += ["", "**Levels:**", ""] + [f"- `{k}`: {v}" for k, v in self.levels.items()]
        out += ["", "**Metrics** (report.json, each a fraction in [0, 1]):", ""]
        out += [f"- `{k}`: {v}" for k, v in self.metrics.items()]
        out += ["", "**Sources:**", ""]
        out += [f"- [{s.status}] {s.ref}: {s.what}" for s in self.sources]
        return "\n".join(out) + "\n"


def _field_doc(cls: type, name: str) -> str:
    """The docstring under a dataclass field (the attribute docstring convention)."""
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return ""
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)):
            return " ".join(str(nxt.value.value).split())
    return ""
