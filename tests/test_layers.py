"""Imports point only down the layers, form no cycle, and every module imports in a fresh interpreter.

The AST walk sees every import statement, including those inside functions and under
`if TYPE_CHECKING:`: a local import hides a cycle from a plain `import`, not from the design.
docs/architecture.md explains the layers.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import stepgym

PACKAGE = Path(stepgym.__file__).parent
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

#: module (or package prefix) -> layer; a module may import its own layer and the ones below.
#: A new top-level module or folder gets one line here (the longest matching prefix wins).
LAYERS: dict[str, int] = {
    # plain data and pure functions: the record every layer speaks, rewards, the id registry
    "stepgym.paths": 0,
    "stepgym.records": 0,
    "stepgym.registry": 0,
    "stepgym.rewards": 0,
    # environments, and the package root, which registers the built-in ones
    "stepgym": 1,
    "stepgym.envs": 1,
    "stepgym.agents": 2,
    "stepgym.episodes": 3,  # writer/reader, recorder, export, scores, viewer, offline evaluation
    "stepgym.runner": 4,  # drives envs and agents into episodes
    "stepgym.trainers": 5,
    "stepgym.integrations": 6,  # TRL / OpenEnv / verl adapters
    "stepgym.console": 7,
    "stepgym.cli": 7,
    "stepgym.demo": 7,
    "stepgym.__main__": 7,
}

#: (importer, imported) edges tolerated for now; each names the branch that removes it.
ALLOWED: set[tuple[str, str]] = {
    # envs -> agents (and back through envs.video.io): fixed on branch video; remove when merged
    ("stepgym.envs.video.env", "stepgym.agents.slowfast"),
    # tspo <-> tspo_cli: fixed on branch video; remove when merged
    ("stepgym.trainers.tspo", "stepgym.trainers.tspo_cli"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.AST, importer: str, is_package: bool) -> list[str]:
    """The stepgym modules one import statement loads (a `from pkg import sub` names `pkg.sub`)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:  # relative: resolve against the importer's package
        package = importer.split(".") if is_package else importer.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Every stepgym module -> the stepgym modules it imports anywhere in its source."""
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges.update(t for t in _targets(node, name, path.name == "__init__.py")
                             if t == "stepgym" or t.startswith("stepgym."))
        edges.discard(name)
        graph[name] = edges
    return graph


def layer_of(module: str) -> int:
    """The layer of `module`: its longest prefix in LAYERS (the root `stepgym` matches only itself)."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    if module == "stepgym":
        return LAYERS["stepgym"]
    raise KeyError(f"module {module!r} has no layer: add its folder or file to LAYERS in {__file__}")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph`: its strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph is a few hundred edges, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def checked_graph() -> dict[str, set[str]]:
    graph = import_graph()
    return {m: {t for t in ts if (m, t) not in ALLOWED} for m, ts in graph.items()}


def test_every_module_has_a_layer():
    missing = [m for m in MODULES if not _has_layer(m)]
    assert not missing, f"modules without a layer (add them to LAYERS): {missing}"


def _has_layer(module: str) -> bool:
    try:
        layer_of(module)
    except KeyError:
        return False
    return True


def test_imports_point_down_the_layers():
    upward = sorted(f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
                    for m, ts in checked_graph().items() for t in ts if layer_of(t) > layer_of(m))
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycles():
    found = cycles(checked_graph())
    assert not found, "import cycles, each among:\n" + "\n".join(", ".join(c) for c in found)


def test_allowed_exceptions_still_exist():
    graph = import_graph()
    stale = sorted(edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], ()))
    assert not stale, f"these imports are gone: remove them from ALLOWED: {stale}"


def test_the_checker_sees_cycles_and_upward_imports():
    graph = {"stepgym.cli": {"stepgym.demo"}, "stepgym.demo": {"stepgym.cli"},
             "stepgym.agents.base": {"stepgym.episodes.schema"}}
    assert cycles(graph) == [["stepgym.cli", "stepgym.demo"]]
    assert layer_of("stepgym.episodes.schema") > layer_of("stepgym.agents.base")
    # a function-level import counts as much as a top-level one
    tree = ast.parse("def f():\n    from stepgym.envs import pool\n")
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert _targets(node, "stepgym.cli", False) == ["stepgym.envs.pool"]


def test_the_architecture_page_shows_this_layer_table():
    """docs/architecture.md's table of layers names the same modules at the same layers as LAYERS."""
    documented: dict[str, int] = {}
    for row in re.findall(r"^\| (\d) \| (.+?) \|", ARCHITECTURE.read_text(encoding="utf-8"), re.M):
        for name in re.findall(r"`([\w.]+)/?`", row[1]):
            documented[name if name == "stepgym" else f"stepgym.{name}"] = int(row[0])
    assert documented == LAYERS


def test_every_module_imports_in_a_fresh_interpreter():
    """Every module imports in an interpreter that has imported nothing yet (unlike pytest's)."""
    names = sorted(MODULES)
    script = (
        "import importlib, sys, traceback\n"
        "bad = []\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        bad.append(name + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(bad))\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, f"modules that fail to import:\n{out.stdout}\n{out.stderr[-2000:]}"
