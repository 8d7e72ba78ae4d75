"""Errors as a browser should see them: a styled page in the reader's language.

Requests under ``/api/`` (and any request that does not ask for HTML) keep FastAPI's
JSON answers; a person's browser asking for a page (``Accept: text/html``) gets the
error page instead of raw JSON. :func:`install` registers the handlers; it runs last
in ``create_app`` so the API's own handlers stay in charge of JSON.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.domain_errors import DomainError
from service.web.labels import detail_message, status_title


def wants_html(request: Request) -> bool:
    """True for a page request from a browser (not the API, not a script)."""
    if request.url.path.startswith("/api/") or request.url.path in ("/metrics", "/openapi.json"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def error_page(
    request: Request, status: int, detail: Any, principal: Any = None, headers: Any = None
) -> Response:
    """The styled error page for ``status`` with ``detail`` said in the page's language."""
    from service.web.render import page_lang, render

    lang = page_lang(request)
    response = render(
        request,
        "error.html",
        {
            "status": status,
            "title": status_title(status, lang),
            "message": detail_message(status, detail, lang),
        },
        principal=principal,
        status_code=status,
    )
    for key, value in dict(headers or {}).items():
        if key.lower() in ("retry-after", "x-model-version"):
            response.headers[key] = value
    return response


async def _answer(result: Any) -> Response:
    """A handler's answer, awaited when the handler is a coroutine function."""
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    return result


def install(app: FastAPI) -> None:
    """HTML error pages for browsers; JSON (the existing handlers) for everyone else."""
    previous_http = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    previous_validation = app.exception_handlers.get(
        RequestValidationError, request_validation_exception_handler
    )

    async def _http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if wants_html(request):
            return error_page(request, exc.status_code, exc.detail, headers=exc.headers)
        return await _answer(previous_http(request, exc))

    async def _validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if wants_html(request):
            return error_page(request, 422, list(exc.errors()))
        return await _answer(previous_validation(request, exc))

    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)

    previous_domain = app.exception_handlers.get(DomainError)
    if previous_domain is not None:  # the API's (service.api.errors), installed first

        async def _domain(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, DomainError)
            if wants_html(request):
                return error_page(request, exc.status_code, exc.detail, headers=exc.headers)
            return await _answer(previous_domain(request, exc))

        app.add_exception_handler(DomainError, _domain)


#: the page a browser gets when the service failed on its request (no template: whatever
#: failed may be what rendering needs)
_FAILURE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>服务器出错</title>
<style>body{{font:15px/1.6 system-ui,"Noto Sans CJK SC",sans-serif;margin:0;background:#f7f9fb;color:#1f2933}}
main{{max-width:640px;margin:2rem auto;padding:0 1rem}}.box{{background:#fef3f2;border:1px solid #fecdca;
color:#b42318;border-radius:6px;padding:.8rem 1rem}}</style></head><body><main>
<h1>服务器出错</h1><div class="box" id="error-message">系统处理这个请求时出错了，您填写的内容没有保存。
请稍后再试；如果一直出错，请把编号 <strong>{rid}</strong> 告诉管理员。</div>
<p><a href="javascript:history.back()">返回</a> · <a href="/">首页</a></p></main></body></html>"""


def failure_page(request_id: str) -> HTMLResponse:
    """The 500 page for a browser, quoting the request id for the admin's log."""
    return HTMLResponse(
        _FAILURE_PAGE.format(rid=request_id),
        status_code=500,
        headers={"X-Request-ID": request_id},
    )
