"""The load generator's HTTP client: one persistent HTTP/1.1 connection (keep-alive) over the
standard library's ``http.client``.

It is deliberately thinner than httpx, because on a two-core machine the client shares the
processors with the server and its own cost shows in every figure (the identity section's
"transport floor" row measures client plus uvicorn: about 0.25 ms a request).
Each benchmark thread owns one ``Http``; it is not thread-safe.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit


class HttpError(RuntimeError):
    pass


class Http:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 60,
                 source: str | None = None) -> None:
        """``source``: the local address to connect from (e.g. 127.0.0.2, to look like another host)."""
        parts = urlsplit(base_url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        self._conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                                source_address=(source, 0) if source else None)
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """Send one request on the connection and read the whole response (so the connection can
        carry the next one). Reconnects once if the server closed an idle connection."""
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {**self.headers, **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body=payload, headers=all_headers)
                response = self._conn.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """Request, check the status, return the decoded JSON body (None when empty)."""
        status, data = self.request(method, path, body)
        if status != expect:
            raise HttpError(f"{method} {path}: expected {expect}, got {status}: {data[:500]!r}")
        return json.loads(data) if data else None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
