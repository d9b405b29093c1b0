"""Pure ASGI middleware: request ids and request body size limits."""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hexagone import logs


class BodyTooLarge(Exception):
    pass


def _problem_bytes(status: int, code: str, title: str, detail: str, request_id: str, path: str) -> bytes:
    return json.dumps(
        {
            "type": f"https://hexagone.dev/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
            "request_id": request_id,
        }
    ).encode()


class RequestContext:
    """Gives every request an id (``X-Request-Id``, echoed, and stamped on every log record of the
    request) and refuses bodies over the limit with 413 — from Content-Length when given, while
    streaming otherwise — before any handler runs. No exception leaves it: the app's error
    handlers already answered (and logged) it, and one escaping to the server would make it log
    the error a second time and close the client's keep-alive connection."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, large_body_paths: str = "") -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.large_paths = re.compile(large_body_paths) if large_body_paths else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        token = logs.request_id.set("")
        try:
            await self._serve(scope, receive, watching_send)
        except Exception as exc:
            if started:  # the error handler answered (and logged) it; swallowing keeps the connection
                return
            logging.getLogger("hexagone.api").error("unhandled error before any response", exc_info=exc)
            body = _problem_bytes(500, "internal", "Internal error", "Something went wrong on our side.",
                                  logs.request_id.get(), scope.get("path", ""))
            await send({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            logs.request_id.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if given and len(given) <= 64 and given.isprintable() else "req-" + secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        logs.request_id.set(request_id)
        streamed = (
            self.large_paths is not None and scope.get("method") == "PUT" and self.large_paths.match(scope["path"])
        )
        limit = None if streamed else self.max_body  # streamed uploads enforce their own limit
        if "\x00" in scope["path"] or b"%00" in (scope.get("query_string") or b""):
            body = _problem_bytes(
                400,
                "invalid-input",
                "Invalid input",
                "The address contains a NUL character; remove it.",
                request_id,
                "",
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/problem+json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"x-request-id", request_id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        if limit is not None:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > limit):
                await self._too_large(send_with_id, request_id, scope["path"], limit)
                return
            received = 0
            response_started = False

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise BodyTooLarge()
                return message

            async def tracking_send(message: Message) -> None:
                nonlocal response_started
                if message["type"] == "http.response.start":
                    response_started = True
                await send_with_id(message)

            try:
                await self.app(scope, limited_receive, tracking_send)
            except BodyTooLarge:
                if not response_started:
                    await self._too_large(send_with_id, request_id, scope["path"], limit)
            return
        await self.app(scope, receive, send_with_id)

    async def _too_large(self, send: Any, request_id: str, path: str, limit: int) -> None:
        body = _problem_bytes(
            413,
            "payload-too-large",
            "Request body too large",
            f"The request body is over the {limit}-byte limit; send less data.",
            request_id,
            path,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
