"""Steps the browser tests share: logging in with a role's key, and the phone check."""

from __future__ import annotations


def log_in(page, live, role: str) -> None:
    """Log in on ``live`` (a LiveServer) with the key of ``role``; wait until idle."""
    page.goto(f"{live.url}/login")
    page.fill("#key", live.service.keys[role])
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")


def no_overflow(page) -> bool:
    """The page is no wider than its window (nothing to scroll sideways on a phone)."""
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"
    )
