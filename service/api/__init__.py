"""API routers under ``/api/v1``; :func:`routers` lists them in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter


def web_routers() -> list[APIRouter]:
    """Routers of server-rendered pages (mounted at the root)."""
    from service.api import nightly
    from service.web import loop_pages, occupation_pages, pages, plan, training_pages

    return [
        pages.router,
        occupation_pages.router,
        nightly.web_router,
        loop_pages.router,
        training_pages.router,
        plan.router,
    ]


def routers() -> list[APIRouter]:
    from service.api import (
        admin,
        employers,
        followups,
        matching,
        nightly,
        occupations,
        outcomes,
        proposals,
        system,
        training,
        vacancies,
        workers,
    )

    return [
        system.router,
        training.router,
        workers.router,
        employers.router,
        vacancies.router,
        outcomes.router,
        followups.router,
        proposals.router,
        matching.router,
        occupations.router,
        admin.router,
        nightly.router,
    ]
