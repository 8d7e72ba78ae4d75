"""pyproject.toml says what the code uses: every package imported by matcher/, training/
or service/ is a declared dependency, every declared dependency is imported (or listed
below with the reason it is needed without an import), extras are the ones used, and
packages only the tests and benchmarks import are in the ``dev`` extra. The vendored
reference data matches the checksums of its provenance note."""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

from import_graph import imported_modules

ROOT = Path(__file__).resolve().parents[2]
OWN = {"matcher", "training", "service", "bench", "tests"}

#: Runtime dependencies needed without an import of their own, and why.
NOT_IMPORTED = {
    "jinja2": "FastAPI's Jinja2Templates renders the web pages with it",
    "python-multipart": "Starlette's request.form() parses the web pages' forms with it",
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect loads it by URL",
    "uvloop": "uvicorn's 'auto' event loop uses it when installed",
    "httptools": "uvicorn's 'auto' HTTP parser uses it when installed",
    "fastapi-offline": "service/web/api_docs.py serves its Swagger UI / ReDoc static files",
}
#: Development tools and plugins the tests do not import.
DEV_NOT_IMPORTED = {
    "pytest-timeout": "pytest plugin (the timeout in pyproject.toml)",
    "ruff": "make lint",
    "mypy": "make typecheck",
    "pandas-stubs": "types for mypy",
    "types-tqdm": "types for mypy",
    "schemathesis": "tests/reliability/test_api_fuzz.py runs its command line",
    "py-spy": "bench/serve_bench.py and bench/request_profile.py run it to profile the app",
}
#: Extras that are used, and why.
EXTRAS = {"psycopg": {"binary": "ships libpq, so no compiler or system libpq is needed"}}

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(specs: list[str]) -> dict[str, set[str]]:
    """Normalised distribution name -> extras, of requirement strings."""
    out: dict[str, set[str]] = {}
    for spec in specs:
        match = _REQUIREMENT.match(spec)
        assert match, f"unreadable requirement {spec!r} in pyproject.toml"
        extras = {e.strip() for e in (match.group(2) or "").split(",") if e.strip()}
        out[normalise(match.group(1))] = extras
    return out


@cache
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def declared() -> dict[str, set[str]]:
    return requirements(project()["dependencies"])


def declared_dev() -> dict[str, set[str]]:
    return requirements(project()["optional-dependencies"]["dev"])


def top_level_imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (absolute imports, anywhere in the
    file: module level, inside functions, under TYPE_CHECKING)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for name in imported_modules(path, with_names=False):
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def third_party(imports: dict[str, set[str]], folders: tuple[str, ...]) -> dict[str, set[str]]:
    """The imports that are neither the standard library, jobmatch's own packages, nor
    helper modules beside the tests (``engine_markets``, ``service_fixtures``...)."""
    local = {
        p.stem if p.suffix == ".py" else p.name
        for folder in folders
        for p in (ROOT / folder).rglob("*")
        if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())
    }
    return {
        name: files
        for name, files in imports.items()
        if name not in sys.stdlib_module_names and name not in OWN and name not in local
    }


def distributions_of(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    """Normalised distribution name -> files importing it; fails on an import that no
    installed distribution provides."""
    provided = packages_distributions()
    out: dict[str, set[str]] = {}
    missing = []
    for name, files in imports.items():
        dists = provided.get(name)
        if not dists:
            missing.append(f"{name} (imported by {sorted(files)[0]})")
            continue
        for dist in dists:
            out.setdefault(normalise(dist), set()).update(files)
    assert not missing, f"no installed distribution provides: {missing}"
    return out


def test_every_imported_package_is_declared():
    folders = ("matcher", "training", "service")
    used = distributions_of(third_party(top_level_imports(*folders), folders))
    undeclared = {d: sorted(f)[:3] for d, f in used.items() if d not in declared()}
    assert not undeclared, (
        f"imported by matcher/, training/ or service/ but not in [project] dependencies of "
        f"pyproject.toml: {undeclared}; declare them"
    )


def test_every_declared_package_is_imported_or_has_a_reason():
    folders = ("matcher", "training", "service")
    used = distributions_of(third_party(top_level_imports(*folders), folders))
    unused = sorted(set(declared()) - set(used) - set(NOT_IMPORTED))
    assert not unused, (
        f"declared in pyproject.toml but never imported by matcher/, training/ or service/: "
        f"{unused}; remove them, or say in NOT_IMPORTED why they are needed"
    )
    stale = sorted(set(NOT_IMPORTED) & set(used))
    assert not stale, f"NOT_IMPORTED lists packages the code does import: {stale}"
    assert not set(NOT_IMPORTED) - set(declared()), "NOT_IMPORTED names undeclared packages"


def test_only_used_extras():
    for name, extras in {**declared(), **declared_dev()}.items():
        unexplained = extras - set(EXTRAS.get(name, {}))
        assert not unexplained, (
            f"{name}[{','.join(sorted(unexplained))}] in pyproject.toml: no code uses that "
            "extra; depend on what is used instead (or say why in EXTRAS)"
        )


def test_test_and_bench_packages_are_dev_dependencies():
    folders = ("tests", "bench")
    used = distributions_of(third_party(top_level_imports(*folders), folders))
    missing = {d: sorted(f)[:3] for d, f in used.items() if d not in declared() | declared_dev()}
    assert not missing, f"imported by tests/ or bench/ but not declared (dev extra): {missing}"
    runtime = distributions_of(third_party(top_level_imports("matcher", "training", "service"), ()))
    dev_only_in_runtime = sorted(set(declared()) & set(used) - set(runtime) - set(NOT_IMPORTED))
    assert not dev_only_in_runtime, (
        f"only tests/ or bench/ import {dev_only_in_runtime}: move them to the dev extra"
    )
    dev_unused = sorted(set(declared_dev()) - set(used) - set(DEV_NOT_IMPORTED))
    assert not dev_unused, f"dev extra packages nothing uses: {dev_unused}"


def test_vendored_reference_data_matches_its_provenance_note():
    data = ROOT / "matcher" / "data"
    note = (data / "THIRD_PARTY.md").read_text(encoding="utf-8")
    sums = dict(re.findall(r"## `([^`]+)`.*?SHA-256: `([0-9a-f]{64})`", note, flags=re.S))
    assert set(sums) == {"csco22.csv", "adcodes.csv"}
    for name, expected in sums.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == expected, name
    assert not (data / "testcases.csv").exists()  # reserved for independent evaluation
