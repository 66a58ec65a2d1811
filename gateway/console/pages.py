"""The console's pages and static files.

Every page (`/`, `/chat`, `/chat/{session_id}`, `/admin`, `/admin/{page}`, `/docs`, `/signin`) is
the same document, `index.html`: the page's script reads the path and draws the view, so a link
or a reload lands where it points. Static files are served from `static/` under three documented
operations (scripts, styles, images), each naming exactly the files that exist.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.console.assets import ASSETS, AssetSet
from gateway.errors import ApiError
from gateway.openapi import Operation

TAG = "console"
ADMIN_PAGE_PATTERN = r"^[a-z][a-z-]{0,31}$"
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

_PAGES: list[tuple[str, str, str, dict[str, dict[str, Any]]]] = [
    ("/", "consoleHome", "The web console (chat and administration)", {}),
    ("/chat", "consoleChat", "The console's chat", {}),
    (
        "/chat/{session_id}",
        "consoleChatSession",
        "The console's chat, opened on one of the user's sessions",
        {"session_id": {"type": "string", "pattern": SESSION_ID_PATTERN}},
    ),
    ("/admin", "consoleAdmin", "The console's administration", {}),
    (
        "/admin/{page}",
        "consoleAdminPage",
        "One page of the console's administration",
        {"page": {"type": "string", "pattern": ADMIN_PAGE_PATTERN}},
    ),
    ("/docs", "consoleDocs", "This API's reference, drawn from /openapi.json", {}),
    ("/signin", "consoleSignIn", "The console's sign-in page", {}),
]


def _page(
    path: str, operation_id: str, summary: str, schemas: dict[str, dict[str, Any]]
) -> Operation[Any, Any]:
    operation: Operation[Any, Any] = Operation(
        "GET",
        path,
        operation_id,
        summary,
        TAG,
        None,
        errors=(400,) if schemas else (),
        authenticated=False,
        path_schemas=schemas,
        media_type="text/html",
    )

    async def page(request: Request) -> Response:
        index = ASSETS.get("index.html")
        assert index is not None, "the console ships index.html"
        return index.response(request)

    return operation.bind(page)


def _assets(folder: str, suffix: str, media_type: str, summary: str, assets: AssetSet) -> Operation[Any, Any]:
    names = assets.paths(suffix, under=folder)
    operation: Operation[Any, Any] = Operation(
        "GET",
        f"/console/static/{folder}/{{name:path}}",
        f"consoleAsset{folder.capitalize()}",
        summary,
        TAG,
        None,
        errors=(400, 404),
        authenticated=False,
        path_schemas={"name": {"type": "string", "enum": names}},
        media_type=media_type,
    )

    async def asset(request: Request) -> Response:
        found = assets.get(f"{folder}/{request.path_params['name']}")
        if found is None:
            raise ApiError("asset_not_found", "no such console file")
        return found.response(request)

    return operation.bind(asset)


operations = [
    *(_page(*page) for page in _PAGES),
    _assets("js", ".js", "text/javascript", "A script of the console (an ES module)", ASSETS),
    _assets("css", ".css", "text/css", "A style sheet of the console", ASSETS),
    _assets("img", ".svg", "image/svg+xml", "An image of the console", ASSETS),
]
