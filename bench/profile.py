"""Where a request's time goes: ``python -m bench.profile [--pg URL] [--count N] [KIND ...]``.

Drives the real ASGI application (``hexagone.bootstrap.build_asgi``) in this process, without a
socket, with the thread pool made inline so that cProfile (which sees one thread only) sees the
whole request: middleware, FastAPI, dependencies, ``authenticate``, the handler, the commit. For
each request kind it prints the in-process latency, the SQL statements one request runs, and the
functions that dominate. KIND is any of ``whoami-token``, ``whoami-key``, ``project``, ``health``,
``login`` (default: all but login). This is a diagnostic for benchmark findings; it is not a
benchmark: the in-process figures leave out uvicorn, the socket and the thread hop.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import anyio.to_thread

from bench.framework import Stats, ms
from bench.server import ADMIN_PASSWORD, fresh_pg_database, temp_data_dir

T = TypeVar("T")
Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@contextmanager
def inline_threadpool() -> Iterator[None]:
    """Run ``anyio.to_thread.run_sync`` work in the calling thread (what Starlette and FastAPI use
    for sync endpoints and dependencies), so a single-thread profiler sees it."""
    original = anyio.to_thread.run_sync

    async def run_sync(func: Callable[..., T], *args: Any, **_kw: Any) -> T:
        return func(*args)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
    try:
        yield
    finally:
        anyio.to_thread.run_sync = original


async def request(app: Asgi, method: str, path: str, headers: dict[str, str] | None = None,
                  body: Any = None) -> tuple[int, bytes]:
    payload = json.dumps(body).encode() if body is not None else b""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    raw_headers.append((b"host", b"127.0.0.1"))
    if payload:
        raw_headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": raw_headers, "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


@contextmanager
def count_statements(engine: Any) -> Iterator[list[str]]:
    from sqlalchemy import event

    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split())[:110])

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _main(args: argparse.Namespace, database_url: str) -> None:
    from hexagone.bootstrap import build_asgi, build_runtime, initialise
    from hexagone.settings import Settings

    with temp_data_dir() as data_dir:
        settings = Settings(data_dir=data_dir, database_url=database_url, admin_password=ADMIN_PASSWORD,
                            single_machine=True, secret_key="bench-profile-key")
        rt = build_runtime(settings)
        initialise(rt)
        app = build_asgi(rt)

        async def ok(method: str, path: str, headers: dict[str, str] | None = None, body: Any = None,
                     expect: int = 200) -> Any:
            status, data = await request(app, method, path, headers, body)
            if status != expect:
                raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
            return json.loads(data) if data else None

        login_body = {"username": "admin", "password": ADMIN_PASSWORD}
        token = (await ok("POST", "/v1/auth/login", body=login_body, expect=201))["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        root = (await ok("GET", "/v1/auth/whoami", bearer))["organisation"]["id"]
        customer = (await ok("POST", "/v1/organisations", bearer, {"parent_id": root, "kind": "customer",
                                                                   "name": "c"}, 201))["id"]
        project = (await ok("POST", "/v1/projects", bearer, {"org_id": customer, "name": "p"}, 201))["id"]
        key = (await ok("POST", "/v1/api-keys", bearer, {"name": "k", "scope_type": "org", "scope_id": root,
                                                         "role": "reader"}, 201))["secret"]
        kinds: dict[str, tuple[str, str, dict[str, str], Any, int]] = {
            "whoami-token": ("GET", "/v1/auth/whoami", bearer, None, 200),
            "whoami-key": ("GET", "/v1/auth/whoami", {"Authorization": f"Bearer {key}"}, None, 200),
            "project": ("GET", f"/v1/projects/{project}", bearer, None, 200),
            "health": ("GET", "/v1/health", {}, None, 200),
            "login": ("POST", "/v1/auth/login", {}, login_body, 201),
        }
        for kind in args.kinds or [k for k in kinds if k != "login"]:
            method, path, headers, body, expect = kinds[kind]
            count = 10 if kind == "login" else args.count
            for _ in range(min(count, 50)):
                await ok(method, path, headers, body, expect)
            with count_statements(rt.db.engine) as statements:
                await ok(method, path, headers, body, expect)
            samples = []
            for _ in range(count):
                t0 = time.perf_counter()
                await ok(method, path, headers, body, expect)
                samples.append(time.perf_counter() - t0)
            stats = Stats.of(samples, sum(samples))
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(count):
                await ok(method, path, headers, body, expect)
            profiler.disable()
            out = io.StringIO()
            report = pstats.Stats(profiler, stream=out)
            report.sort_stats(args.sort).print_stats(args.top)
            print(f"\n### {kind}: {method} {path} in-process p50 {ms(stats.p50)} ms, p95 {ms(stats.p95)} ms "
                  f"({count} requests); {len(statements)} SQL statements per request:")
            for s in statements:
                print(f"    {s}")
            print(out.getvalue().split("\n", 1)[1] if args.verbose else _trim(out.getvalue()))
        rt.db.dispose()


def _trim(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(line.replace("/work/main/.venv/lib/python3.11/site-packages/", "")
                     .replace("/work/main/src/", "") for line in lines[start:] if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("kinds", nargs="*", help="whoami-token, whoami-key, project, health, login")
    parser.add_argument("--pg", help="PostgreSQL server URL to create a fresh database on (default: SQLite)")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative, ...")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--real-threads", action="store_true",
                        help="keep the real thread pool (latency comparison; the profile then misses it)")
    args = parser.parse_args()
    database = fresh_pg_database(args.pg) if args.pg else nullcontext("")
    with database as url, nullcontext() if args.real_threads else inline_threadpool():
        asyncio.run(_main(args, url))


if __name__ == "__main__":
    main()
