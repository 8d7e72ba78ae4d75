"""Errors the service layer raises when it refuses a request, free of HTTP.

``service.domain`` (and the nightly, import and key functions) raise these; the API
turns each into its HTTP status in one place, :mod:`service.api.errors`, and the web
pages show them on their error page. ``detail`` is what the caller is told: a sentence
saying what was wrong and what to do, or, for :class:`Invalid`, field-level problems
(``[{"loc": ["body", field], "msg": ..., "type": ...}]``). It never holds personal data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A request the service refuses; subclasses say why.

    ``status_code`` is the HTTP status the API (:mod:`service.api.errors`) and the web
    pages answer it with: a plain number, so the domain needs no web framework.
    """

    status_code = 400

    def __init__(self, detail: Any, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        self.headers = dict(headers or {})


class NotFound(DomainError):
    """No such record, or none the caller may see (an out-of-scope record is "not found")."""

    status_code = 404


class Forbidden(DomainError):
    """The caller's role or scope does not allow the action."""

    status_code = 403


class Conflict(DomainError):
    """The request clashes with the store's state (exists already, model cannot serve yet)."""

    status_code = 409


class Invalid(DomainError):
    """The request's data break a rule of the data contract; ``detail`` lists the fields."""

    status_code = 422

    def __init__(self, problems: list[dict], *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(problems, headers=headers)


class Unavailable(DomainError):
    """The service cannot answer now (no model loaded); retry later."""

    status_code = 503


class ServingFailure(DomainError):
    """The serving model failed on a valid request: a fault of the deployment, not the caller."""

    status_code = 500


def not_found(kind: str, ident: str) -> NotFound:
    return NotFound(f"no {kind} with id {ident!r}")


def field_error(field: str, message: str, kind: str = "contract") -> dict:
    """One field-level problem in FastAPI's 422 shape."""
    return {"loc": ["body", field], "msg": message, "type": kind}
