"""The package's house rules, read from its source: no import circles, edge imports no other stage,
and an import inside a function says why it is there."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import digitlite

PACKAGE = Path(digitlite.__file__).resolve().parent
ROOTS = {"digitlite": PACKAGE}  # the stages' folders are mapped under digitlite (pyproject's package-dir)
for _stage in ("edge", "train", "quantize", "benchmarks"):
    ROOTS[f"digitlite.{_stage}"] = Path(__import__(f"digitlite.{_stage}", fromlist=["_"]).__file__).resolve().parent


def _modules() -> dict[str, Path]:
    """Every module of the installed package: dotted name -> file."""
    found = {}
    for name, root in ROOTS.items():
        for f in root.rglob("*.py"):
            rel = f.relative_to(root).with_suffix("").parts
            if name == "digitlite" and rel and rel[0] in ("edge", "train", "quantize", "benchmarks"):
                continue
            dotted = ".".join((name, *rel)).removesuffix(".__init__")
            found[dotted] = f
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[ast.stmt, str, bool]]:
    """(statement, the digitlite module it reaches, whether it sits inside a function) for each import."""
    tree = ast.parse(path.read_text())
    nested = {id(sub) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
              for sub in ast.walk(node)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # "from digitlite.edge.vision import lines" reaches the module digitlite.edge.vision.lines
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names]
        else:
            continue
        for t in targets:
            if t.split(".")[0] == "digitlite" or id(node) in nested:
                out.append((node, t, id(node) in nested))
    return out


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {t for _, t, _ in _imports(path) if t in MODULES and t != name and t != "digitlite"}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_subpackages_and_their_imports():
    graph = _graph()
    assert {"digitlite.edge.runtime.interpreter", "digitlite.edge.vision.preprocess", "digitlite.edge.apps.camera",
            "digitlite.edge.deploy.export", "digitlite.train.train"} <= set(graph)
    assert "digitlite.edge.deploy.mcu" in graph["digitlite.edge.deploy.export"]  # an arrow it must see


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_of_the_package_is_in_an_import_circle():
    assert _circles(_graph()) == []  # lazy imports count: a circle drawn inside a function is still one


@pytest.mark.parametrize("stage", ["train", "quantize", "benchmarks"])
def test_edge_never_imports_another_stage(stage):
    edge = [n for n in MODULES if n.startswith("digitlite.edge")]
    reached = {(n, t) for n in edge for _, t, _ in _imports(MODULES[n]) if t.startswith(f"digitlite.{stage}")}
    assert not reached


def _explained(lines: list[str], at: int) -> bool:
    """A comment on the import's line, or on the run of import and comment lines just above it."""
    while at >= 0:
        line = lines[at].strip()
        if "#" in line:
            return True
        if not line.startswith(("import ", "from ", ")")) and not line.endswith((",", "(")):
            return False
        at -= 1
    return False


def test_an_import_inside_a_function_says_why():
    """Imports sit at the top of a module; one inside a function buys start-up time or keeps a dependency
    optional, and its comment (on its line or the line above) says which."""
    unexplained = []
    for name, path in MODULES.items():
        lines = path.read_text().splitlines()
        for node, target, nested in _imports(path):
            if not nested:
                continue
            if not _explained(lines, node.lineno - 1):
                unexplained.append(f"{path.relative_to(path.parents[1])}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert not unexplained, "\n".join(sorted(set(unexplained)))


@pytest.mark.parametrize("old, name, new", [
    ("digitlite.edge.preprocess", "preprocess_gray", "digitlite.edge.vision.preprocess"),
    ("digitlite.edge.preprocess", "preprocess_file", "digitlite.edge.vision.inputs"),
    ("digitlite.edge.classify", "default_model", "digitlite.edge.runtime.shipped"),
    ("digitlite.edge.export", "export_bundle", "digitlite.edge.deploy.export"),
    ("digitlite.edge.browser", "export_web", "digitlite.edge.deploy.web"),
    ("digitlite.edge.runtime", "Model", "digitlite.edge.runtime.interpreter"),
    ("digitlite.edge.preprocess", "load_image", "digitlite.edge.vision.decode"),
    ("digitlite.edge.preprocess", "ink_map", "digitlite.edge.vision.ink"),
])
def test_a_module_name_from_before_the_subpackages_still_imports_with_one_warning(old, name, new):
    import importlib
    import sys

    sys.modules.pop(old, None) if old != "digitlite.edge.runtime" else None
    with pytest.warns(DeprecationWarning, match=f"{old}.* has moved to digitlite.edge.[a-z]+.[a-z_]+"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), name)


def test_an_unknown_old_name_is_still_an_import_error():
    with pytest.raises(ImportError):
        __import__("digitlite.edge.nothing_here")
    with pytest.raises(AttributeError):
        __import__("digitlite.edge.runtime", fromlist=["_"]).no_such_name  # noqa: B018


@pytest.mark.parametrize("name, new", [("load_image", "decode"), ("otsu_threshold", "ink"), ("save_preprocessed", "mnist_input")])
def test_a_name_that_left_preprocess_in_its_split_is_found_with_one_warning(name, new):
    import importlib

    from digitlite.edge.vision import preprocess

    with pytest.warns(DeprecationWarning, match=f"preprocess.{name} has moved to digitlite.edge.vision.{new}"):
        value = getattr(preprocess, name)
    assert value is getattr(importlib.import_module(f"digitlite.edge.vision.{new}"), name)
    with pytest.raises(AttributeError):
        preprocess.no_such_name  # noqa: B018
