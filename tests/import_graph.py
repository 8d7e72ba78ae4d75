"""What a Python file imports, read from its syntax tree: one walker for the structure
tests (no import cycle in matcher/, training cannot reach the truth, declared packages)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path, *, with_names: bool = True) -> set[str]:
    """Every module named by an absolute import anywhere in ``path`` (module level, inside
    functions, under ``TYPE_CHECKING``). With ``with_names``, ``from a import b`` also
    yields ``a.b`` (``b`` may be a submodule)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if with_names:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def rooms(package: Path) -> dict[str, set[str]]:
    """The top-level parts of ``package`` (a subpackage, or a module directly under it) and
    which other parts each one imports (lazy and ``TYPE_CHECKING`` imports included)."""
    name = package.name

    def room_of(module: str) -> str | None:
        parts = module.split(".")
        if parts[0] != name or len(parts) < 2:
            return None
        room = parts[1]
        if (package / room).is_dir():
            return f"{room}/"
        return f"{room}.py" if (package / f"{room}.py").is_file() else None

    graph: dict[str, set[str]] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).parts
        room = f"{rel[0]}/" if len(rel) > 1 else rel[0]
        if room == "__init__.py":
            continue
        targets = {room_of(m) for m in imported_modules(path)}
        graph.setdefault(room, set()).update(t for t in targets if t and t != room)
    return graph


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Floor 1 imports no other part; every part stands one floor above its highest import."""
    floor: dict[str, int] = {}

    def visit(room: str, path: tuple[str, ...]) -> int:
        if room in path:
            raise ValueError(f"import cycle: {' -> '.join((*path, room))}")
        if room not in floor:
            floor[room] = 1 + max((visit(t, (*path, room)) for t in graph[room]), default=0)
        return floor[room]

    for room in graph:
        visit(room, ())
    return floor


def layout_text(package: Path) -> str:
    """The parts of ``package`` from the top floor down, with their lines and imports."""
    graph = rooms(package)
    floor = floors(graph)

    def lines(room: str) -> int:
        files = (package / room).rglob("*.py") if room.endswith("/") else [package / room]
        return sum(len(f.read_text(encoding="utf-8").splitlines()) for f in files)

    rows = []
    for room in sorted(graph, key=lambda r: (-floor[r], r)):
        uses = ", ".join(sorted(graph[room])) or "-"
        rows.append(f"floor {floor[room]}  {room:<22} {lines(room):>6} lines  imports: {uses}")
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    print(layout_text(Path(sys.argv[1] if len(sys.argv) > 1 else "matcher")))
