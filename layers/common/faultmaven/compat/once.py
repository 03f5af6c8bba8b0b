"""`Idempotency-Key` on the clients' POSTs (a new case, a chat turn): the first reply is
kept and a retry with the same key gets it again, marked `X-Idempotency-Replayed`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Response

from faultmaven.core.idempotency import REPLAYED_HEADER, Idempotency, StoredReply


def _response(reply: StoredReply, *, replayed: bool = False) -> Response:
    headers = {**reply.headers, REPLAYED_HEADER: "true"} if replayed else reply.headers
    return Response(
        content=reply.body,
        status_code=reply.status_code,
        media_type="application/json",
        headers=headers,
    )


def once(
    store: Idempotency, scope: str, key: str, request: str, produce: Callable[[], StoredReply]
) -> Response:
    """`produce` the reply, or replay it when `key` was already answered; without a key,
    simply produce it. A request that fails frees its key."""
    if not key:
        return _response(produce())
    replay = store.begin(scope, key, request)
    if replay is not None:
        return _response(replay, replayed=True)
    try:
        reply = produce()
    except BaseException:
        store.abandon(scope, key)
        raise
    store.complete(scope, key, request, reply)
    return _response(reply)
