"""The transport floor: uvicorn serving a bare ASGI app that answers 200 with a small JSON body, run
exactly as ``hexagone up`` runs uvicorn. What a request costs before Hexagone does anything:
the client, the loopback socket, uvicorn's HTTP parsing and the event loop.

``python -m bench.floor PORT`` serves it on 127.0.0.1:PORT.
"""

from __future__ import annotations

import sys
from typing import Any

BODY = b'{"status":"ok"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", workers=1,
                access_log=False)


if __name__ == "__main__":
    main()
