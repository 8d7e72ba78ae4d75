"""Shared by the bench scripts: machine description, medians, and writing one section
of ``docs/benchmarks.md`` without touching the others."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Every figure here was written by a script under `bench/` (named in each section); rerun
`make bench` or the script itself to refresh it. Sections are replaced independently.
"""


def machine() -> str:
    """One line describing this machine, to print beside every figure."""
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem_gib:.0f} GiB RAM, {platform.machine()}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def numerics() -> str:
    """The processor and numeric libraries, on one line: float rounding in matrix products
    differs between CPUs and BLAS kernels, and training amplifies it, so figures are
    comparable bit for bit only where this line is the same (``docs/stay-stage.md``,
    session 17)."""
    cpu = platform.processor() or platform.machine()
    try:
        info = dict(
            line.split(":", 1)
            for line in Path("/proc/cpuinfo").read_text().splitlines()[:30]
            if ":" in line
        )
        info = {k.strip(): v.strip() for k, v in info.items()}
        cpu = f"{info.get('model name', cpu)} (family {info.get('cpu family', '?')}, model "
        cpu += f"{info.get('model', '?')})"
    except OSError:
        pass
    parts = [f"CPU {cpu}"]
    try:
        import numpy
        from threadpoolctl import threadpool_info

        # numpy and scipy may each load their own BLAS: every distinct one, in a fixed order
        blas = sorted(
            {
                (
                    str(i.get("internal_api", "BLAS")),
                    str(i.get("version", "?")),
                    str(i.get("architecture") or ""),
                )
                for i in threadpool_info()
                if i.get("user_api") == "blas"
            }
        )
        parts += [
            f"{api} {ver}" + (f" ({arch} kernels)" if arch else "") for api, ver, arch in blas
        ]
        parts.append(f"numpy {numpy.__version__}")
    except ImportError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    with contextlib.suppress(PackageNotFoundError):
        parts.append(f"scikit-learn {version('scikit-learn')}")
    return "; ".join(parts)


def timed(fn: Callable[[], object], repeats: int = 3) -> tuple[float, list[float]]:
    """Median wall-clock seconds of ``repeats`` calls, and all the runs."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs


class LoadSampler:
    """The 1-minute load average sampled every ``every`` seconds in the background while
    a timed run goes on (the machine is shared: the figures say how busy it was)."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        """``min / mean / max`` of the samples."""
        x = self.samples or [os.getloadavg()[0]]
        return f"{min(x):.1f} / {statistics.mean(x):.1f} / {max(x):.1f}"


def git(*args: str) -> str:
    """``git -C <repo root> ARGS``'s standard output, stripped (raises on failure)."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def extract_commit(ref: str, dest: Path) -> Path:
    """Write the tree of commit ``ref`` into the empty folder ``dest`` (``git archive``), so
    a bench can run a baseline's code beside this one's."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def write_section(name: str, title: str, body: str, script: str) -> Path:
    """Replace (or append) the section ``name`` of docs/benchmarks.md."""
    BENCHMARKS.parent.mkdir(parents=True, exist_ok=True)
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"_Written by `{script}` on {stamp}. Machine: {machine()}; {numerics()}._\n\n"
        f"{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n?", re.S
    )
    text = (
        pattern.sub(lambda _m: block, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + block
    )
    BENCHMARKS.write_text(text, encoding="utf-8")
    return BENCHMARKS


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    def fmt(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def short_head() -> str:
    """The abbreviated commit id of this tree's HEAD ("" outside git)."""
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def baseline_tree(commit: str, workdir: Path) -> Path:
    """The source tree of ``commit`` in ``workdir`` (:func:`extract_commit` into
    ``baseline-<commit>`` unless a previous run left it there), for a bench to run a
    baseline's code beside this tree's in the same run."""
    dest = workdir / f"baseline-{commit}"
    return dest if dest.exists() else extract_commit(commit, dest)
