"""The FastAPI app: routes, the key, limits, metrics, the web page, and errors as one-line JSON."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragtune.config import Config
from ragtune.errors import QuestionError, RagtuneError, first_line
from ragtune.serve import openai_api, routes
from ragtune.serve.jobs import Ingestion
from ragtune.serve.metrics import Metrics
from ragtune.serve.security import BodyLimit, key_checker, load_api_key
from ragtune.serve.service import Service

log = logging.getLogger("ragtune.serve")
STATIC = files("ragtune.serve") / "static"
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          405: "invalid_request_error", 413: "request_too_large", 415: "unsupported_media_type",
          422: "invalid_request_error"}


@dataclass
class AppState:
    config: Config
    service: Service
    ingestion: Ingestion
    metrics: Metrics
    api_key: str | None


def create_app(index_dir: str | Path, config: Config | None = None, adapter=None, *, warm_up: bool = False,
               service: Service | None = None) -> FastAPI:
    """The server over `index_dir` (created by the first upload if it does not exist). `service`: one already
    built (tests share its loaded models among apps)."""
    config = config or Config()
    service = service or Service(index_dir, config, adapter)
    if warm_up:
        service.warm_up()
    ingestion = Ingestion(service)
    api_key = load_api_key(config.serve.api_key_file)
    state = AppState(config, service, ingestion, Metrics(service.queue_depth, lambda: ingestion.waiting), api_key)

    app = FastAPI(title="ragtune", version="1", summary="Retrieval-augmented answers from your documents, cited.",
                  description="Ask questions (`/v1/ask`, or OpenAI's `/v1/chat/completions`), retrieve passages, "
                              "upload documents. With an API key set, send `Authorization: Bearer KEY`.")
    app.state.ragtune = state
    needs_key = [Depends(key_checker(api_key))]
    app.include_router(routes.open_router(state))
    app.include_router(routes.router(state), dependencies=needs_key)
    app.include_router(openai_api.router(state), dependencies=needs_key)

    @app.get("/metrics", dependencies=needs_key, include_in_schema=False)
    async def metrics():
        return Response(state.metrics.export(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(STATIC / "index.html"))

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    _errors_as_json(app)
    app.add_middleware(state.metrics.middleware)
    if config.serve.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.serve.cors_origins, allow_methods=["*"],
                           allow_headers=["*"])
    serve = config.serve
    upload_limit = int(serve.max_upload_mb * 2**20) * serve.max_upload_files + 2**20
    app.add_middleware(BodyLimit, limit_for=lambda path: upload_limit if path == "/v1/documents"
                       else serve.max_body_kb * 1024)
    return app


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": _TYPES.get(status, "error")}}, status,
                        headers=headers)


def _errors_as_json(app: FastAPI) -> None:
    """Every error is `{"error": {"message", "type"}}` (OpenAI's shape): a bad request a 4xx with one line, an
    unexpected failure a 500 that says only that (the traceback goes to the server's log)."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(HTTPException)
    async def fastapi_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error(422, f"{where}: {first.get('msg')}" if where else str(first.get("msg")))

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError):
        return error(400, first_line(exc))

    @app.exception_handler(RagtuneError)
    async def ragtune_error(request: Request, exc: RagtuneError):
        return error(400, first_line(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal error (see the server's log)")
