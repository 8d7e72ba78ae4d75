"""Rendering server-side pages: one ``Jinja2Templates`` and the context every page gets.

Every page template extends ``base.html`` (blocks ``title`` and ``content``) and
receives ``t`` (translate a key, see :mod:`service.web.i18n`), ``lang``,
``principal`` (or None), ``request`` and ``model_version``. Page routes call
:func:`render`; a page that needs a login calls :func:`login_redirect` when the
principal is None.
"""

from __future__ import annotations

from datetime import date
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service import clock
from service.auth import Principal
from service.model_holder import ModelHolder
from service.web import display, labels
from service.web.i18n import LANG_COOKIE, LANGS, normalise_lang, translator

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.globals.update(
    label=labels.label,
    labels=labels.labels,
    field_name=labels.field_name,
    choices=labels.choices,
    region_name=display.region_name,
    match_text=display.match_text,
    pct=display.percent,
    share_text=display.share_text,
    day=display.day,
    deadline=display.deadline,
    vacancy_state=display.vacancy_state,
    money=display.money,
    gini=display.gini,
    wage_range=display.wage_range,
)


def office_today(request: Request) -> date:
    """Today in the office's time zone (``Settings.office_timezone``)."""
    return clock.office_today(request.app.state.settings.office_timezone)


def page_lang(request: Request) -> str:
    """``?lang=`` wins, then the language cookie, then Chinese."""
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    return normalise_lang(request.cookies.get(LANG_COOKIE))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` with the common page context; remembers ``?lang=`` in a cookie."""
    lang = page_lang(request)
    today = office_today(request)
    holder: ModelHolder = request.app.state.models  # create_app always sets it
    loaded = holder.current()
    ctx: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "principal": principal,
        "model_version": loaded.version if loaded is not None else None,
        "path": request.url.path,
        "today": today.isoformat(),
        # the office's day, not the server's (a server in UTC calls 07:00 in Beijing
        # "yesterday")
        "deadline": partial(display.deadline, on=today),
        "vacancy_state": partial(display.vacancy_state, on=today),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
