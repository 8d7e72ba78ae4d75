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
