"""Structure rules of ``matcher/`` (ARCHITECTURE.md, "Where the engine is heading"):
no import cycle between its modules (lazy imports inside functions included) and no
import of ``service`` or ``training``."""

from __future__ import annotations

from pathlib import Path

from import_graph import imported_modules

MATCHER = Path(__file__).resolve().parents[2] / "matcher"


def _module_name(path: Path) -> str:
    parts = path.relative_to(MATCHER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in MATCHER.rglob("*.py")}
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


def test_matcher_never_imports_service_or_training():
    offenders = {
        str(p.relative_to(MATCHER.parent)): sorted(
            m for m in imported_modules(p) if m.split(".")[0] in {"service", "training"}
        )
        for p in MATCHER.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
