"""Browser tests: the app served by uvicorn on a free loopback port, and a real headless
Chromium driven by Playwright.

Chromium is Debian's ``/usr/bin/chromium`` (``scripts/ensure_browser.sh`` installs it).
The tests skip, saying why, only when no browser can be found; with
``JOBMATCH_REQUIRE_BROWSER=1`` (set by ``.ci/run``) a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from sample_fixtures import (  # noqa: E402, F401  (fixtures)
    Sample,
    sample,
    sample_frames,
    sample_model_dir,
)
from service_fixtures import (  # noqa: E402, F401  (fixtures)
    LiveServer,
    Service,
    frames,
    make_service,
    trained_model_dir,
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


def _chromium() -> str | None:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _ensure_browser() -> str | None:
    path = _chromium()
    if path is None:
        script = ROOT / "scripts" / "ensure_browser.sh"
        if script.exists():
            subprocess.run(["bash", str(script)], check=False, timeout=900)
        path = _chromium()
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _ensure_browser()
    if path is None:
        reason = "no Chromium found and scripts/ensure_browser.sh could not install one"
        if os.environ.get("JOBMATCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"JOBMATCH_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        if os.environ.get("JOBMATCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"playwright is not installed: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def live(sqlite_url, trained_model_dir, frames):  # noqa: F811
    service = make_service(sqlite_url, trained_model_dir, frames)
    with LiveServer(service) as server:
        yield server


@pytest.fixture(scope="session")
def sample_live(sample: Sample):  # noqa: F811
    """The sample market's app served once for the whole session (journeys share it)."""
    with LiveServer(sample.service) as server:
        yield server


@pytest.fixture
def page(browser, tmp_path):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(60_000)
    try:
        yield p
    finally:
        context.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where the flows save one screenshot per page (JOBMATCH_SCREENSHOTS overrides)."""
    folder = Path(os.environ.get("JOBMATCH_SCREENSHOTS") or tmp_path / "screens")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shoot(shots):
    """``shoot(page, name)``: a screenshot into ``shots``. For the docs
    (``JOBMATCH_SCREENSHOTS`` set, see scripts/screenshots.sh) the visible window only,
    else the whole page."""
    full = not os.environ.get("JOBMATCH_SCREENSHOTS")

    def take(page, name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=full)

    return take
