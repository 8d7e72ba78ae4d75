"""One place where errors become HTTP answers, and where the answers are documented.

- :class:`service.domain_errors.DomainError` subclasses answer their status
  (404 not found, 403 forbidden, 409 conflict, 422 invalid, 503 unavailable), with
  their ``detail`` and headers.
- Request validation errors answer 422 with field-level problems; values of personal
  fields are never echoed.
- A ``matcher.data.contract.ContractError`` that reaches the API answers 422 with its fields.
- A request that waited its whole ``pool_timeout`` for a store connection (the process is
  overloaded) answers 503 with ``Retry-After``: the caller may try again, nothing failed.
- Any other exception is a fault of ours: it answers 500 with a request id and no
  detail of the failure; the log gets the request id, method, route, the exception's
  type and where it was raised, never its message (a message may quote record values,
  i.e. personal data).

Every request carries a request id (``X-Request-ID``: the caller's when it is a short
token, else a new one) in its answer's headers, so a 500 the caller reports can be
found in the log.

:func:`document_errors` adds the statuses each operation can answer to the OpenAPI
document (401/403/429 where a key is needed, 404 where a path names a record, 409
where a request changes the store, 400 where a body is parsed, 500 everywhere), so the
documented statuses are the ones clients meet.
"""

from __future__ import annotations

import logging
import math
import re
import traceback
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.utils import create_model_field
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.data.schema import PERSONAL_FIELDS
from service.domain_errors import DomainError
from service.schemas import Problem

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
#: seconds a caller is asked to wait when every store connection is taken
BUSY_RETRY_AFTER = 1
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def where_raised(exc: BaseException) -> str:
    """The frames of ``exc``'s traceback as ``file:line in function`` lines: where it
    was raised, without the exception's message or source text (either may quote data)."""
    return "\n".join(
        f"  {frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    )


def _wants_page(scope: Scope) -> bool:
    """A browser asking for a page (Accept: text/html), outside the API."""
    if str(scope.get("path", "")).startswith("/api/"):
        return False
    for name, value in scope.get("headers") or ():
        if name == b"accept":
            return b"text/html" in value
    return False


class ErrorBoundary:
    """The outermost layer of the app: gives every request an id and turns any
    exception nothing else handled into a logged 500.

    The id is the caller's ``X-Request-ID`` when it is a short token, else a new one;
    it is kept in ``request.state.request_id`` and sent back in the ``X-Request-ID``
    header. An unexpected exception is answered here, not re-raised: the server's own
    error log would print the exception's message, which may quote personal data. A
    plain ASGI middleware, so it costs next to nothing per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        rid = given if given and _REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers") or [])
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append(header)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the boundary: logged, answered 500
            route = scope.get("route")
            log.error(
                "request %s %s %s failed: %s\n%s",
                rid,
                scope.get("method"),
                getattr(route, "path", "unmatched"),
                type(exc).__name__,
                where_raised(exc),
            )
            if started:  # the answer is under way: all that is left is to end it
                return
            if _wants_page(scope):  # a person's browser: a page in Chinese, not JSON
                from service.web.errors import failure_page

                await failure_page(rid)(scope, receive, send)
                return
            response = JSONResponse(
                status_code=500,
                content={
                    "detail": "internal error: the service failed on this request; quote "
                    "the request id when you report it",
                    "request_id": rid,
                },
                headers={REQUEST_ID_HEADER: rid},
            )
            await response(scope, receive, send)


# --------------------------------------------------------------------------- bodies


def _json_safe(value: Any) -> Any:
    """``value`` as JSON can carry it (NaN and infinities, sent as JS literals, as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def scrub(errors: Sequence[Any]) -> list[dict]:
    """Validation errors safe to return: no personal values, JSON-encodable."""
    out = []
    for err in errors:
        item = {k: v for k, v in dict(err).items() if k not in ("url", "ctx")}
        loc = item.get("loc") or ()
        if any(part in PERSONAL_FIELDS for part in loc):
            item.pop("input", None)
        out.append(_json_safe(item))
    return out


# --------------------------------------------------------------------------- handlers


def install(app: FastAPI) -> None:
    """Install the error handlers on ``app`` and, outermost, the :class:`ErrorBoundary`
    (call it after every other middleware is added)."""
    app.add_middleware(ErrorBoundary)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code, content={"detail": exc.detail}, headers=exc.headers
        )

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no store connection within the pool timeout: answered 503")
        return JSONResponse(
            status_code=503,
            content={"detail": "the service is busy: try again in a moment"},
            headers={"Retry-After": str(BUSY_RETRY_AFTER)},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": scrub(exc.errors())})

    from matcher.data.contract import ContractError
    from service.domain import contract_error_detail

    @app.exception_handler(ContractError)
    async def _contract(request: Request, exc: ContractError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": contract_error_detail(exc)})


# --------------------------------------------------------------------------- documentation


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


def _calls(dependant: Dependant) -> set[Any]:
    out = {dependant.call}
    for sub in dependant.dependencies:
        out |= _calls(sub)
    return out


def document_errors(router: APIRouter) -> None:
    """Add the error statuses each of ``router``'s operations can answer to its OpenAPI
    entry (call before the router is included in the app)."""
    from service.auth import get_principal

    for route in router.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        extra: dict[int, str] = {}
        if route.body_field is not None:
            extra[400] = "the body is not JSON in UTF-8"
        if get_principal in _calls(route.dependant):
            extra[401] = "missing, unknown, expired or revoked API key"
            extra[403] = "the key's role or scope does not allow this"
            extra[429] = "too many failed authentications from this address: wait and retry"
        names_a_record = any(p.name.endswith("_id") for p in route.dependant.query_params)
        if route.dependant.path_params or route.body_field is not None or names_a_record:
            extra[404] = "no such record (in the path or named by the body), or none in your scope"
        if (route.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}:
            extra[409] = "the request clashes with the store's state"
        extra[500] = "a fault of the service; the body holds the request id to report"
        for code, description in extra.items():
            if code in route.responses:
                continue
            route.responses[code] = {"model": Problem, "description": description}
            route.response_fields[code] = create_model_field(
                name=f"Response_{code}_{route.unique_id}", type_=Problem, mode="serialization"
            )
