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
    store: Idempotency,
    scope: str,
    key: str,
    request: str,
    produce: Callable[[], StoredReply],
    *,
    stale: Callable[[StoredReply], bool] | None = None,
) -> Response:
    """`produce` the reply, or replay it when `key` was already answered; without a key,
    simply produce it. A request that fails frees its key; so does a kept reply that
    `stale` says no longer stands (a 202 whose job failed), and the request runs again."""
    if not key:
        return _response(produce())
    replay = store.begin(scope, key, request)
    if replay is not None and stale is not None and stale(replay):
        store.abandon(scope, key)
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
