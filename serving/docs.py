"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) served with no outside host.

FastAPI's own pages load their JavaScript and CSS from a public CDN (and ReDoc's fonts from
Google), so on a machine without internet -- where a credit-risk service often runs -- they
are blank, and every visit tells a third party who opened the API's documentation. Here the
same pages load the files shipped in the ``fastapi-offline`` package (Swagger UI and ReDoc
bundles, MIT), mounted under ``/docs/assets``; Swagger UI's online validator badge, which
would send the OpenAPI document to validator.swagger.io, is off.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

ASSETS = "/docs/assets"
SWAGGER_PARAMETERS = {"validatorUrl": None}  # no badge fetched from validator.swagger.io


def assets_directory() -> Path:
    """The installed Swagger UI / ReDoc files (``fastapi_offline/static``)."""
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect and ``/redoc`` to an app created with
    ``docs_url=None, redoc_url=None``; their assets from the package, under ``ASSETS``."""
    assert app.docs_url is None and app.redoc_url is None, "create the app without FastAPI's docs"
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = "/docs/oauth2-redirect"
    app.mount(ASSETS, StaticFiles(directory=assets_directory()), name="docs-assets")
    favicon = f"{ASSETS}/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=favicon,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
