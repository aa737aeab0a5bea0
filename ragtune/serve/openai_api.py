"""OpenAI-compatible routes: POST /v1/chat/completions (streamed or not) and GET /v1/models.

The last user message is the question, the turns before it the conversation; the answer is retrieved and
cited as `/v1/ask` does. The passages travel in an extra field, `sources` (the same objects as `/v1/ask`'s,
with `cited`), on the response and on the stream's last chunk; an OpenAI client reads it as
`completion.sources` (or `completion.model_extra["sources"]`). Sampling fields (temperature, max_tokens, ...)
are accepted and ignored: ragtune decodes greedily.
"""

from __future__ import annotations

import json
import time
import uuid

import anyio
from fastapi import APIRouter, HTTPException
from sse_starlette import EventSourceResponse

from ragtune.serve.routes import ERRORS, checked_top_k, history_of, pieces_of
from ragtune.serve.schemas import ChatCompletionRequest

MODEL = "ragtune"


def router(app_state) -> APIRouter:
    service, metrics, limits = app_state.service, app_state.metrics, app_state.config.serve
    api = APIRouter(prefix="/v1", responses=ERRORS)
    model_ids = [MODEL]

    @api.get("/models", summary="OpenAI-compatible model list (one model: this server's RAG pipeline)")
    async def models():
        return {"object": "list", "data": [{"id": m, "object": "model", "created": 0, "owned_by": "ragtune"}
                                           for m in model_ids]}

    @api.post("/chat/completions", summary="OpenAI-compatible chat completion, answered from the index")
    async def chat_completions(body: ChatCompletionRequest):
        turns = history_of(body.messages, limits.max_history_messages + 1)
        if not turns or turns[-1]["role"] != "user":
            raise HTTPException(400, "the last message must be the user's question")
        question, history = turns[-1]["content"], turns[:-1]
        asked = await anyio.to_thread.run_sync(service.ask, question, checked_top_k(body.top_k, limits), history)
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        head = {"id": completion_id, "created": created, "model": body.model or MODEL}
        if not body.stream:
            text = "".join([piece async for piece in pieces_of(asked, metrics)])
            answer = asked.answer(text)
            metrics.answers.inc()
            return {**head, "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                                 "finish_reason": "stop"}],
                    "usage": None, "sources": answer.to_json()["sources"]}

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            return json.dumps({**head, "object": "chat.completion.chunk",
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra},
                              ensure_ascii=False)

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            text = ""
            try:
                async for piece in pieces_of(asked, metrics):
                    text += piece
                    yield chunk({"content": piece})
            except Exception as exc:  # noqa: BLE001 - the stream has begun: the error travels in it
                yield json.dumps({"error": {"message": str(exc).splitlines()[0], "type": "generation_error"}})
                return
            answer = asked.answer(text)
            metrics.answers.inc()
            yield chunk({}, "stop", sources=answer.to_json()["sources"])
            yield "[DONE]"

        return EventSourceResponse(events(), ping=15)

    return api
