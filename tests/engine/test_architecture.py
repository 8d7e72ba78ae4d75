"""Structure rules of ``matcher/`` (ARCHITECTURE.md, "Where the engine is heading"):
no import cycle between its modules (lazy imports inside functions included), no import
of ``service`` or ``training``, and no module of the project (the bench scripts included)
that uses another module's private (``_name``) definitions."""

from __future__ import annotations

import ast
from pathlib import Path

from import_graph import floors, imported_modules, rooms

ROOT = Path(__file__).resolve().parents[2]
MATCHER = ROOT / "matcher"
#: The project's packages (``bench`` holds scripts that import each other's helpers).
PACKAGES = ("matcher", "training", "service", "bench")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph(*packages: str) -> dict[str, set[str]]:
    """Imports between the modules of ``packages`` (default: matcher)."""
    files = {
        _module_name(p): p
        for package in packages or ("matcher",)
        for p in (ROOT / package).rglob("*.py")
    }
    return {
        name: {m for m in imported_modules(path) if m in files and m != name}
        for name, path in files.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_matcher():
    graph = _graph()
    assert "matcher.serving.recommender" in graph and "matcher.serving.batch" in graph
    assert _cycles(graph) == []


def test_no_import_cycle_in_the_project():
    """Across matcher, training, service and the bench scripts (bench/serve_bench.py and
    bench/request_profile.py once imported each other)."""
    graph = _graph(*PACKAGES)
    assert "bench.serve_bench" in graph and "service.app" in graph
    assert _cycles(graph) == []


def test_matcher_never_imports_service_or_training():
    offenders = {
        str(p.relative_to(MATCHER.parent)): sorted(
            m for m in imported_modules(p) if m.split(".")[0] in {"service", "training"}
        )
        for p in MATCHER.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


#: The packages whose modules may not use another module's private definitions, and whose
#: private definitions no module may use (the bench scripts import matcher, service,
#: training and each other's helpers).
PROJECT = PACKAGES

#: Functions that name an attribute in a string: ``getattr(module, "_name")``,
#: ``setattr``/``monkeypatch.setattr(module, "_name", ...)``.
_BY_NAME = {"getattr", "setattr", "hasattr", "delattr"}


def private_uses(path: Path) -> list[str]:
    """``from <project module> import _name``, ``<imported project module>._name`` (also
    through a dotted path, ``matcher.x._name``) and ``getattr(<project module>, "_name")``
    in ``path``: a module reaching into another module's private definitions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()  # local names bound to a project module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] not in PROJECT:
                continue
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{node.lineno}: from {node.module} import {alias.name}")
                modules.add(alias.asname or alias.name)  # may be a submodule
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT:
                    modules.add(alias.asname or alias.name.split(".")[0])

    def module_path(node: ast.expr) -> str | None:
        """``a.b.c`` when ``node`` is a dotted path from a name bound to a project module."""
        parts = []
        while isinstance(node, ast.Attribute) and not _private(node.attr):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in modules:
            return ".".join([node.id, *reversed(parts)])
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = module_path(node.value)
            if owner is not None:
                found.append(f"{node.lineno}: {owner}.{node.attr}")
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func, (target, name) = node.func, node.args[:2]
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                called in _BY_NAME
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and _private(name.value)
                and (owner := module_path(target)) is not None
            ):
                found.append(f"{node.lineno}: {called}({owner}, {name.value!r})")
    return sorted(found, key=lambda line: int(line.split(":")[0]))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def planted(tmp_path: Path, source: str) -> Path:
    """A module with a planted violation, for checking that a finder finds it."""
    path = tmp_path / "planted.py"
    path.write_text(source, encoding="utf-8")
    return path


def test_the_private_use_finder_finds_every_kind(tmp_path):
    src = planted(
        tmp_path,
        "import matcher.models.ranking as ranking\n"
        "from matcher.models.features import _join, pair_matrix\n"
        "from numpy import _private_ok\n"
        "import service.nightly\nfrom bench import report\n"
        "ranking._quick_scorer(None)\nranking.top_k_per_group\nself._x\n"
        "service.nightly._pin_candidates\nservice.nightly.plan_placements\n"
        "getattr(service.nightly, '_pin_candidates')\nsetattr(report, '_rows', None)\n"
        "getattr(self, '_memo')\ngetattr(report, 'table')\nreport.__name__\n",
    )
    assert private_uses(src) == [
        "2: from matcher.models.features import _join",
        "6: ranking._quick_scorer",
        "9: service.nightly._pin_candidates",
        "11: getattr(service.nightly, '_pin_candidates')",
        "12: setattr(report, '_rows')",
    ]


def test_no_module_uses_another_modules_private_names():
    root = MATCHER.parent
    offenders = {
        str(p.relative_to(root)): private_uses(p)
        for package in PROJECT
        for p in (root / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycle_between_the_parts_of_matcher():
    parts = rooms(MATCHER)
    assert {"data/", "models/", "serving/", "planning/", "evaluation/"} <= set(parts)
    assert _cycles(parts) == []
    assert floors(parts)["data/"] == 1  # the ground: imports no other part


def test_the_parts_finder_sees_a_cycle_between_subpackages(tmp_path):
    pkg = tmp_path / "pkg"
    for room, imports in {"a": "pkg.b.y", "b": "pkg.a.x"}.items():
        (pkg / room).mkdir(parents=True)
        (pkg / room / "x.py").write_text(f"import {imports}\n", encoding="utf-8")
        (pkg / room / "y.py").write_text("", encoding="utf-8")
    assert rooms(pkg) == {"a/": {"b/"}, "b/": {"a/"}}
    assert _cycles(rooms(pkg)) == [["a/", "b/"]]


def hidden_imports(path: Path) -> list[str]:
    """Project modules imported by name at run time (``importlib.import_module("matcher.x")``,
    ``find_spec``, ``__import__``): imports that the structure rules above cannot see."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        arg = node.args[0]
        if (
            name in {"import_module", "find_spec", "__import__"}
            and isinstance(arg, ast.Constant)
            and isinstance(arg.value, str)
            and arg.value.split(".")[0] == "matcher"
        ):
            found.append(f"{node.lineno}: {name}({arg.value!r})")
    return found


def test_the_hidden_import_finder_finds_one(tmp_path):
    src = planted(
        tmp_path,
        "import importlib\nm = importlib.import_module('matcher.eligibility.rules')\n"
        "importlib.import_module(name)\nimportlib.import_module('numpy')\n",
    )
    assert hidden_imports(src) == ["2: import_module('matcher.eligibility.rules')"]


def test_matcher_imports_its_own_modules_where_the_structure_rules_see_them():
    offenders = {
        str(p.relative_to(MATCHER.parent)): hidden_imports(p) for p in MATCHER.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
