"""ltl's package structure: layers, private modules and import cycles (issue 12).

Every import statement of every module under ``ltl/`` counts, including those inside functions.
Layers, bottom to top; a module may import its own layer and those below, never one above:

    geometry, version < runtime < operators < shearlets < solvers < metrics < data < models
    < methods < plotting < training | evaluation | explain (independent of each other) < cli

No package imports another package's private (``_name``) module, and no two ltl modules import
each other, directly or through others.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "ltl"

LAYERS = [
    ("ltl.geometry", "ltl.version"),
    ("ltl.runtime",),
    ("ltl.operators", "ltl"),  # the root package re-exports Geometry, RadonOperator, fbp
    ("ltl.shearlets",),
    ("ltl.solvers",),
    ("ltl.metrics",),
    ("ltl.data",),
    ("ltl.models",),
    ("ltl.methods",),
    ("ltl.plotting",),
    ("ltl.training", "ltl.evaluation", "ltl.explain"),
    ("ltl.cli", "ltl.__main__"),
]
#: Packages of one layer that must not import each other.
INDEPENDENT = {"ltl.training", "ltl.evaluation", "ltl.explain"}


def sources(root: Path = PKG) -> dict[str, str]:
    """Module name → source of every module under ``root``."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p.read_text()
    return out


def _is_package(name: str, mods: dict[str, str], packages: set[str]) -> bool:
    return name in packages


def imports(mods: dict[str, str], packages: set[str]) -> set[tuple[str, str]]:
    """Edges (importer, imported) between ltl modules, from every import statement."""
    edges = set()
    for name, src in mods.items():
        is_pkg = name in packages
        for node in ast.walk(ast.parse(src)):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in mods]
                targets = subs if subs and len(subs) == len(node.names) else [mod] + subs
            for t in targets:
                while t and t not in mods:  # `import ltl.data.dataset` names the module itself
                    t = t.rpartition(".")[0]
                if t and t.split(".")[0] == "ltl" and t != name:
                    edges.add((name, t))
    return edges


def layer_of(mod: str) -> tuple[int, str]:
    best = None
    for i, names in enumerate(LAYERS):
        for n in names:
            if mod == n or mod.startswith(n + ".") and n != "ltl":
                if best is None or len(n) > len(best[1]):
                    best = (i, n)
    if best is None:
        raise AssertionError(f"{mod} belongs to no layer; add it to LAYERS in {__file__}")
    return best


def violations(mods: dict[str, str]) -> list[str]:
    """Every upward import, import between independent packages, import of another package's
    private module, and import cycle."""
    packages = {n for n in mods if (PKG.parent / n.replace(".", "/") / "__init__.py").exists()}
    edges = imports(mods, packages)
    out = []
    for a, b in sorted(edges):
        (la, pa), (lb, pb) = layer_of(a), layer_of(b)
        if lb > la:
            out.append(f"{a} imports {b}, a layer above it ({pb} over {pa})")
        elif la == lb and pa != pb and pa in INDEPENDENT and pb in INDEPENDENT:
            out.append(f"{a} imports {b}: {pa} and {pb} are independent")
        parent, _, leaf = b.rpartition(".")
        if leaf.startswith("_") and not leaf.startswith("__") and not (a == parent or a.startswith(parent + ".")):
            out.append(f"{a} imports {b}, a private module of another package")
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return out


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_ltl_respects_its_layers_and_has_no_import_cycles():
    found = violations(sources())
    assert not found, "\n".join(found)


@pytest.mark.parametrize("module, planted", [
    ("ltl.solvers.l1", "from ..models import LtI\n"),            # upward
    ("ltl.training.loop", "from ..evaluation import evaluate\n"),  # between independent packages
    ("ltl.cli.info", "from ..operators import _astra\n"),          # another package's private module
    ("ltl.operators.radon", "import ltl.operators.fbp\n"),         # fbp imports radon: a cycle
])
def test_the_check_catches_a_planted_violation(module, planted):
    mods = sources()
    assert module in mods
    mods[module] = planted + mods[module]
    assert any(module in v for v in violations(mods))


def test_importing_the_models_does_not_load_h5py_or_the_command_line():
    code = ("import sys, ltl.models, ltl.methods; "
            "print(sorted(m for m in ('h5py', 'ltl.cli', 'ltl.data.dataset') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
