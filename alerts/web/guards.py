"""Checks every request passes before a view sees it: body size, JSON nesting, NUL.

- A body over ``VARSLA_MAX_BODY_BYTES`` is 413 (Flask's ``MAX_CONTENT_LENGTH``), before
  any of it is parsed: a 41 MB polygon once took 36 s to be accepted.
- JSON nested deeper than :data:`MAX_JSON_DEPTH` is 400: Python's parser recurses, and a
  deep enough document ended in a RecursionError (500).
- A NUL character anywhere (path, query, form field, JSON string) is 400: PostgreSQL
  cannot store it in text and answered 500; no legitimate request carries one.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request

from alerts.errors import MalformedRequest

MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth(raw: bytes) -> int:
    """How deeply ``raw`` nests arrays and objects, without parsing it (strings skipped)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match[0] in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def nul_at(value: Any, path: str = "") -> str | None:
    """The field (``texts.sv.headline``) of the first string in ``value`` holding a NUL,
    "body" when it is in a key, or None."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        if any("\x00" in str(key) for key in value):
            return path or "body"
        items = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, list):
        items = [
            (f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value)
        ]
    for where, item in items:
        if (found := nul_at(item, where)) is not None:
            return found
    return None


def check_request() -> None:
    """Refuse what no view should have to handle (see the module's docstring)."""
    if "\x00" in request.path or b"%00" in request.query_string.upper():
        raise MalformedRequest.on("url", "contains a NUL character")
    if request.mimetype == "application/json" or request.mimetype.endswith("+json"):
        raw = request.get_data(cache=True)  # 413 here when over the limit
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise MalformedRequest.on("body", f"nests deeper than {MAX_JSON_DEPTH} levels")
        if (field := nul_at(request.get_json(silent=True, cache=True))) is not None:
            raise MalformedRequest.on(field, "contains a NUL character (U+0000)")
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            if "\x00" in name or "\x00" in value:
                raise MalformedRequest.on(name if "\x00" not in name else "body", "contains NUL")


def init_app(app: Flask) -> None:
    app.before_request(check_request)
