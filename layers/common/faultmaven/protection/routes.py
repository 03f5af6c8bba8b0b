"""Which routes get a stricter budget of their own.

Matched on the raw method and path, before routing, so the same class applies in the
middleware (per address, for every request, including ones that match no route) and in
the per-user check after authentication.
"""

from __future__ import annotations

import re

from faultmaven.protection.models import RouteClass

_WRITES = frozenset({"POST", "PUT", "PATCH"})
_ID = r"[^/]+"

_RULES: tuple[tuple[RouteClass, frozenset[str], re.Pattern[str]], ...] = (
    # Unauthenticated, and each one an Argon2 hash or a token minted.
    (
        RouteClass.AUTH,
        frozenset({"POST"}),
        re.compile(r"^/api/v1/auth/(login|register|refresh)/?$"),
    ),
    # Presigned uploads and inline documents: each starts storage, preprocessing or an
    # embedding run.
    (
        RouteClass.UPLOAD,
        frozenset({"POST"}),
        re.compile(
            rf"^/api/v1/(cases/{_ID}/evidence(/text)?|knowledge/documents(/uploads)?"
            r"|knowledge/global/documents)/?$"
        ),
    ),
    # An embedding and a vector query per request.
    (RouteClass.SEARCH, frozenset({"GET", "POST"}), re.compile(r"^/api/v1/knowledge/search/?$")),
    # The language-model routes: chat turns, investigations and reports.
    (
        RouteClass.AGENT,
        _WRITES,
        re.compile(
            rf"^/api/v1/(cases/{_ID}/(query|investigations?|reports)(/.*)?"
            r"|agent(/.*)?|reports(/.*)?|investigations(/.*)?)$"
        ),
    ),
)


def classify(method: str, path: str) -> RouteClass:
    for route_class, methods, pattern in _RULES:
        if method in methods and pattern.match(path):
            return route_class
    return RouteClass.DEFAULT
