"""The package's layout: no import circle anywhere (every import statement counts, those inside
functions too), and the model stage reads no label file (it imports nothing from the label,
training, evaluation, batch or command-line stages)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mythscan"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package's modules it imports (relative and absolute imports, at any depth)."""
    files = {module_name(p): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule when there is one
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                while t not in files and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in files and t != name:
                    graph[name].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (a list of modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle(tmp_path):
    """The check itself: a package with a circle through a function-level import is caught."""
    pkg = tmp_path / "mythscan"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .a import f\n")
    (pkg / "sub" / "a.py").write_text("def f():\n    from ..b import g\n    return g\n")
    (pkg / "b.py").write_text("from .sub import a\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, pkg
    try:
        cycle = find_cycle(import_graph(pkg))
    finally:
        PACKAGE = saved
    assert cycle is not None and set(cycle) >= {"mythscan.sub.a", "mythscan.b"}


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert len(graph) > 30 and "mythscan.models.kinds" in graph["mythscan.models"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


@pytest.mark.parametrize("stage", ["mythscan.models", "mythscan.batch", "mythscan.cli"])
def test_each_grown_stage_is_entered_through_its_package(stage):
    """The rest of mythscan imports a subpackage only through its entry point (the package) or a
    submodule that the entry point exports by name (`from mythscan.models import encoder`)."""
    import importlib

    module = importlib.import_module(stage)
    exported = {f"{stage}.{name}" for name in module.__all__}
    graph = import_graph()
    outside = {
        m: sorted(t for t in targets if t.startswith(stage + ".") and t not in exported)
        for m, targets in graph.items()
        if not m.startswith(stage)
    }
    assert not {m: t for m, t in outside.items() if t}


def test_the_model_stage_reads_no_label_file():
    """Training and evaluation hand the model stage its data, folds, augmentation and test-split hash."""
    forbidden = (
        "mythscan.data",
        "mythscan.labelling",
        "mythscan.augment",
        "mythscan.active",
        "mythscan.training",
        "mythscan.evaluation",
        "mythscan.evaluation_cli",
        "mythscan.promotion",
        "mythscan.batch",
        "mythscan.cli",
        "mythscan.scoring",
    )
    graph = import_graph()
    bad = {m: sorted(t for t in targets if t.startswith(forbidden)) for m, targets in graph.items() if m.startswith("mythscan.models")}
    assert not {m: t for m, t in bad.items() if t}
