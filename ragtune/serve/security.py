"""The API key and the request size limits."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from fastapi import HTTPException, Request

from ragtune.errors import RagtuneError

ENV_KEY = "RAGTUNE_API_KEY"


def load_api_key(key_file: Path | None) -> str | None:
    """The key from `serve.api_key_file` (its first line), else RAGTUNE_API_KEY; None: no key asked."""
    if key_file is not None:
        try:
            key = Path(key_file).expanduser().read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RagtuneError(f"{key_file}: cannot read the API key: {exc.__class__.__name__}") from exc
        if not key or not key[0].strip():
            raise RagtuneError(f"{key_file}: the API key file is empty")
        return key[0].strip()
    return os.environ.get(ENV_KEY) or None


def presented_key(request: Request) -> str:
    """`Authorization: Bearer KEY` (what OpenAI clients send) or `X-API-Key: KEY`."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "")


def key_checker(key: str | None):
    """A FastAPI dependency that refuses requests without the key (constant-time compare); a no-op without one."""

    def check(request: Request) -> None:
        if key is None:
            return
        if not hmac.compare_digest(presented_key(request).encode(), key.encode()):
            raise HTTPException(401, "missing or wrong API key (send `Authorization: Bearer KEY`)",
                                headers={"WWW-Authenticate": "Bearer"})

    return check


class BodyLimit:
    """ASGI middleware: a request body past its route's limit is refused with 413 before it is all read
    (`Content-Length` checked first; a chunked body is counted as it arrives)."""

    def __init__(self, app, limit_for):
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope["path"])
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await _too_large(send, limit)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _too_large(send, limit)


class _TooLarge(Exception):
    pass


async def _too_large(send, limit: int) -> None:
    import json

    body = json.dumps({"error": {"message": f"request body over {limit} bytes", "type": "request_too_large"}})
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body.encode()})
