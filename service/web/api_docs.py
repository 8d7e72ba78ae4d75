"""Swagger UI and ReDoc served by the app itself, from the assets the installed
``fastapi-offline`` package ships (the FastAPI defaults load them from a CDN, which a
county office without internet shows as a blank page)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/static/api-docs"


def assets_dir() -> Path:
    """The folder holding swagger-ui-bundle.js, swagger-ui.css and redoc.standalone.js."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve ``docs_url`` (Swagger UI) and ``redoc_url`` (ReDoc) without any download."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets_dir())), name="api-docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get(docs_url, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} · 接口文档",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get(redoc_url, include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} · ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
