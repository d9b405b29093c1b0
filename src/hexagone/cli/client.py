"""The CLI's only way to the platform: HTTP to the REST API /v1, with httpx.

Every answer of 400 or more becomes a ``CliError`` carrying the problem+json body, the request id
and the exit code from ``output.EXIT_CODES``; a server that cannot be reached becomes exit code 9.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from hexagone import __version__
from hexagone.cli.output import CONNECTION, CliError, exit_code_for

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = response.text.strip()[:200]
    return {"status": response.status_code, "detail": text or response.reason_phrase}


def api_error(response: httpx.Response) -> CliError:
    problem = problem_of(response)
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}")
    request_id = str(problem.get("request_id") or response.headers.get("x-request-id", ""))
    return CliError(
        detail, exit_code_for(response.status_code, problem), request_id=request_id, problem=problem
    )


class ApiClient:
    """A thin client: base URL, optional bearer token, JSON in and out, problems as ``CliError``."""

    def __init__(
        self, base_url: str, token: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"User-Agent": f"hexagone-cli/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=TIMEOUT,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def send(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """One request; a 4xx/5xx answer raises ``CliError``, the raw response is returned otherwise."""
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, json=json, params=clean)
        except httpx.TransportError as exc:
            raise CliError(
                f"Cannot reach the Hexagone API at {self.base_url} ({type(exc).__name__}): check the URL "
                "and that the server is running.",
                CONNECTION,
            ) from exc
        if response.status_code >= 400:
            raise api_error(response)
        return response

    def call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        response = self.send(method, path, json=json, params=params)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Any:
        return self.call("PATCH", path, json=body)

    def delete(self, path: str) -> None:
        self.call("DELETE", path)

    def pages(
        self, path: str, params: Mapping[str, Any], limit: int, cursor: str | None, follow: bool
    ) -> Iterator[dict[str, Any]]:
        """Each page body of a cursor-paginated list; all of them when ``follow``."""
        while True:
            body = self.get(path, **{**params, "limit": limit, "cursor": cursor})
            yield body
            cursor = body.get("next_cursor")
            if not follow or not cursor:
                return
