"""Nova's regular-expression list filters (``name``, ``ip``), in linear time.

Nova matches ``?name=`` and ``?ip=`` as regular expressions searched in the value (its database
``REGEXP``): ``?name=web`` lists ``web-1`` and ``old-web``. A backtracking engine (Python's ``re``)
takes exponential time on a pattern such as ``(a+)+$``, so one request could hold a worker, and
the interpreter lock, for minutes. Patterns run on RE2 instead (``google-re2``: linear in the text,
bounded memory, no backreferences or look-arounds); a pattern RE2 refuses is matched as a plain
substring, and a pattern over the length limit is refused with 400 rather than truncated.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

from hexagone.errors import InvalidInput

NAME_MAX = 255  # a server name's own maximum
IP_MAX = 64


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the client's mistake, not a server log line
    options.never_capture = True
    return options


def search(field: str, pattern: str, limit: int) -> Callable[[str], bool]:
    """A predicate: does ``pattern`` occur in a value (regular-expression search, as Nova)?"""
    if len(pattern) > limit:
        raise InvalidInput(f"The '{field}' filter is over {limit} characters; send a shorter pattern.")
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error:
        return lambda value: pattern in value
    return lambda value: compiled.search(value) is not None
