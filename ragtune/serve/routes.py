"""ragtune's own routes: ask (streamed or not), retrieve, documents and their upload jobs, health."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator

import anyio
from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from ragtune.generate.base import Message
from ragtune.serve.jobs import accepted
from ragtune.serve.schemas import (
    AskRequest,
    AskResponse,
    DocumentList,
    ErrorResponse,
    GraphView,
    JobStatus,
    RetrieveRequest,
    RetrieveResponse,
)
from ragtune.serve.service import Asked

ERRORS = {400: {"model": ErrorResponse}, 401: {"model": ErrorResponse}, 413: {"model": ErrorResponse},
          422: {"model": ErrorResponse}}


def history_of(messages, limit: int) -> list[Message]:
    """The request's earlier turns as chat messages, the last `limit` of them (system turns are not history)."""
    turns = [{"role": m.role, "content": m.content} for m in messages if m.role != "system"]
    return turns[-limit:]


def checked_top_k(top_k: int | None, limits) -> int | None:
    """`top_k` as asked, unless it is over `serve.max_top_k` (a 400)."""
    if top_k is not None and top_k > limits.max_top_k:
        raise HTTPException(400, f"top_k {top_k} is over serve.max_top_k ({limits.max_top_k})")
    return top_k


def document_id(source: str) -> str:
    """A source's stable public id: its index key never leaves the server."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def sse(event: str, data: dict) -> ServerSentEvent:
    return ServerSentEvent(json.dumps(data, ensure_ascii=False), event=event)


async def pieces_of(asked: Asked, metrics) -> AsyncIterator[str]:
    """The answer's pieces, each fetched in a worker thread (they come from the generator's decoding thread)."""
    pieces: Iterator[str] = asked.pieces
    done = object()
    try:
        while (piece := await anyio.to_thread.run_sync(next, pieces, done)) is not done:
            if "first_token_s" not in asked.timings:
                asked.timings["first_token_s"] = time.perf_counter() - asked.started
                metrics.first_token.observe(asked.timings["first_token_s"])
            metrics.tokens.inc()
            yield piece
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:  # a client that left: its prompt leaves the batch
            close()


def router(app_state) -> APIRouter:
    service, ingestion, metrics, limits = app_state.service, app_state.ingestion, app_state.metrics, \
        app_state.config.serve
    api = APIRouter(prefix="/v1", responses=ERRORS)

    async def start(question: str, top_k: int | None, history: list[Message]) -> Asked:
        return await anyio.to_thread.run_sync(service.ask, question, checked_top_k(top_k, limits), history)

    @api.post("/ask", response_model=AskResponse, summary="Answer a question from the index, citing passages",
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "JSON, or with `stream: true` Server-Sent Events: `token` events "
                                              "{text}, then one `sources` event (the JSON response's fields)"}})
    async def ask(body: AskRequest):
        history = history_of(body.history, limits.max_history_messages)
        asked = await start(body.question, body.top_k, history)
        if not body.stream:
            text = "".join([piece async for piece in pieces_of(asked, metrics)])
            metrics.answers.inc()
            return asked.answer(text).to_json()

        async def events():
            text = ""
            try:
                async for piece in pieces_of(asked, metrics):
                    text += piece
                    yield sse("token", {"text": piece})
            except Exception as exc:  # noqa: BLE001 - the stream has begun: the error travels as an event
                yield sse("error", {"error": {"message": str(exc).splitlines()[0], "type": "generation_error"}})
                return
            metrics.answers.inc()
            yield sse("sources", asked.answer(text).to_json())

        return EventSourceResponse(events(), ping=15)

    @api.post("/retrieve", response_model=RetrieveResponse, summary="Passages for a question, no generation")
    async def retrieve(body: RetrieveRequest):
        history = history_of(body.history, limits.max_history_messages)
        query, passages = await service.retrieve_async(body.question, checked_top_k(body.top_k, limits), history,
                                                       body.rerank)
        # a Response as is: the passages are already the schema's shape, so FastAPI need not validate them again
        return JSONResponse({"standalone_question": query, "passages": [p.to_json() for p in passages]})

    @api.get("/documents", response_model=DocumentList, summary="The sources in the index")
    async def documents():
        view = service.view()
        listed = [{"id": document_id(source), **entry} for source, entry in view.documents.items()]
        return {"documents": listed, "passages": len(view.store) if view.store is not None else 0}

    @api.delete("/documents/{doc_id}", summary="Remove one source from the index")
    async def delete_document(doc_id: str):
        sources = [s for s in service.view().documents if document_id(s) == doc_id]
        if not sources:
            raise HTTPException(404, f"no document {doc_id!r}")
        removed = await anyio.to_thread.run_sync(ingestion.delete, sources[0])
        return {"id": doc_id, "passages_removed": removed}

    @api.post("/documents", status_code=202, response_model=JobStatus,
              summary="Upload files (any format `ragtune read` accepts); read in the background")
    async def upload(files: list[UploadFile] = File(...)):
        if len(files) > limits.max_upload_files:
            raise HTTPException(413, f"{len(files)} files: at most {limits.max_upload_files} per upload")
        largest = int(limits.max_upload_mb * 2**20)
        uploads = []
        for upload in files:
            name = upload.filename or "upload"
            if not accepted(name):
                raise HTTPException(415, f"{name}: not a type ragtune reads (txt, md, html, pdf, docx, jsonl, json)")
            content = await upload.read(largest + 1)
            if len(content) > largest:
                raise HTTPException(413, f"{name}: over serve.max_upload_mb ({limits.max_upload_mb} MB)")
            uploads.append((name, content))
        job = await anyio.to_thread.run_sync(ingestion.submit, uploads)
        return job.to_json()

    @api.get("/jobs/{job_id}", response_model=JobStatus, summary="An upload's progress and per-file errors")
    async def job(job_id: str):
        found = ingestion.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id!r}")
        return found.to_json()

    @api.get("/graph", response_model=GraphView, summary="An entity's neighbourhood in the index's knowledge graph",
             responses={404: {"model": ErrorResponse}})
    async def graph(entity: str | None = Query(None, max_length=500, description="A name; none: the most "
                                               "connected entities"),
                    hops: int | None = Query(None, ge=0, le=3, description="Default: graph.hops.")):
        return JSONResponse(await anyio.to_thread.run_sync(graph_view, service, entity, hops))

    return api


def graph_view(service, entity: str | None, hops: int | None) -> dict:
    """What /v1/graph answers, from the graph as it is now and the texts of the service's live index."""
    from ragtune.errors import RagtuneError
    from ragtune.graph.show import index_text_lookup, neighbourhood, overview
    from ragtune.index.graph.store import GraphStore

    graph = GraphStore.open(service.index_dir)
    if graph is None:
        raise HTTPException(404, "the index has no knowledge graph yet; run `ragtune graph build --index DIR`")
    config = service.config.graph
    with graph:
        if not entity or not entity.strip():
            return overview(graph)
        store = service.view().store
        try:
            return neighbourhood(graph, entity, config.hops if hops is None else hops, config.max_edges,
                                 index_text_lookup(store) if store is not None else None)
        except RagtuneError as exc:
            raise HTTPException(404, str(exc).split(": ", 1)[-1]) from None


def open_router(app_state) -> APIRouter:
    """Routes that need no key: health (load balancers, the page's first call)."""
    api = APIRouter()

    @api.get("/v1/health", summary="Liveness, the index's size, and whether an API key is required")
    async def health(request: Request):
        return app_state.service.health() | {"auth": app_state.api_key is not None}

    return api
