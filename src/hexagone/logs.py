"""Structured logging: key=value for people, JSON lines in production. Never log secrets.

Every record written while a request runs carries its ``request_id`` (from a context variable the
request middleware sets), in the text format as in JSON, so the id a 500 asks the user to quote
finds every line of that request. Repeated warnings and errors are aggregated: the first of a kind
is written, the next ones within ``REPEAT_WINDOW`` seconds are counted and summed up in one line
("N more like this in 10 s"), so an outage writes a few lines, not one per failed request.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TextIO

SECRET_WORDS = ("password", "token", "secret", "authorization", "api_key", "totp")
CONTEXT_KEYS = ("request_id", "instance_id", "host_id", "user_id")
REPEAT_WINDOW = 10.0

#: the id of the request being served (set by ``hexagone.api.middleware.RequestContext``)
request_id: ContextVar[str] = ContextVar("hexagone_request_id", default="")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            if getattr(record, key, None):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value…`` (the context keys after the message, before any
    traceback)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_KEYS if getattr(record, k, None))
        return f"{line} {context}" if context else line


@dataclass
class _Window:
    start: float
    first: logging.LogRecord
    count: int = 0


class RegionHandler(logging.StreamHandler[TextIO]):
    """A stream handler that stamps the current request id on each record and aggregates repeats
    (same logger, level, message template and exception type) of WARNING and above."""

    def __init__(self, stream: TextIO | None = None, window: float = REPEAT_WINDOW,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.window = window
        self._monotonic = monotonic
        self._repeats: dict[tuple[str, int, str, str], _Window] = {}
        self._repeat_lock = threading.Lock()

    def handle(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None) and request_id.get():
            record.request_id = request_id.get()
        if record.levelno < logging.WARNING:
            return bool(super().handle(record))
        now = self._monotonic()
        kind = type(record.exc_info[1]).__name__ if record.exc_info else ""
        key = (record.name, record.levelno, _kind_of(record), kind)
        with self._repeat_lock:
            due = self._due(now)
            window = self._repeats.get(key)  # still open: _due closed the expired ones
            suppressed = window is not None
            if window is not None:
                window.count += 1
            else:
                self._repeats[key] = _Window(now, record)
        for summary in due:
            super().handle(summary)
        return False if suppressed else bool(super().handle(record))

    def _due(self, now: float) -> list[logging.LogRecord]:
        """Summaries of the windows that closed, and forget them."""
        out = []
        for key, window in list(self._repeats.items()):
            if now - window.start < self.window:
                continue
            del self._repeats[key]
            if window.count:
                out.append(_summary(window.first, window.count, self.window))
        return out

    def flush_repeats(self) -> None:
        """Write the pending summaries now (at shutdown, and for tests)."""
        with self._repeat_lock:
            due = self._due(float("inf"))
        for summary in due:
            super().handle(summary)


def _kind_of(record: logging.LogRecord) -> str:
    """What makes two records "alike": their message template, or the message itself when the
    template is only placeholders (``log.warning("%s", message)``)."""
    template = str(record.msg)
    literal = re.sub(r"%[-#0 +]*\d*(?:\.\d+)?[sdrifx%]", "", template)
    return template if len(literal.strip(" :;,.-()")) >= 8 else record.getMessage()[:300]


def _summary(first: logging.LogRecord, count: int, window: float) -> logging.LogRecord:
    text = first.getMessage().splitlines()[0][:300] if first.getMessage() else ""
    return logging.makeLogRecord({
        "name": first.name, "levelno": first.levelno, "levelname": first.levelname,
        "msg": "%d more like this in %g s: %s", "args": (count, window, text),
    })


def configure(level: str = "INFO", json_lines: bool = False, stream: TextIO | None = None) -> RegionHandler:
    handler = RegionHandler(stream)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
