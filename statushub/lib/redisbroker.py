"""kombu's Redis transport, made to survive a restart of Redis while a task is running.

What killed the worker (kombu 5.7.0, redis-py 8.1.0, celery 5.7.0): when the connection to Redis is lost,
Celery closes the broken connection, and kombu detaches the transport from it (``transport.client = None``)
before closing its channels. Closing a channel puts its unacknowledged messages back (tasks are acknowledged
late), which needs a fresh Redis client, whose settings kombu reads from ``transport.client``: the result was
``AttributeError: 'NoneType' object has no attribute 'hostname'`` in ``Channel._connparams``. That is not a
connection error, so Celery did not ignore it: "Unrecoverable error", and the worker exited. The same happened
when the running task later acknowledged its message over the old channel. It needed a late-acknowledged task
in hand at the moment of the restart, hence "once in five restarts".

This channel remembers the connection settings it was first built with and uses them once the transport has
been detached. While Redis is still down, that raises redis-py's ``ConnectionError``, which Celery ignores while
it reconnects; once Redis is back, the late acknowledgement reaches it.

``register()`` makes ``redis://`` and ``rediss://`` broker URLs use this transport in the processes that
import ``statushub.celery`` (web, worker, beat).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


def register() -> None:
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        saved: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_statushub_connparams", {})
        transport = self.connection
        if transport is None or transport.client is None:
            if asynchronous not in saved:
                raise RedisConnectionError("the broker connection was closed before this channel connected")
            return dict(saved[asynchronous])
        params: dict[str, Any] = super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]
        saved[asynchronous] = dict(params)
        return params


class Transport(kombu_redis.Transport):
    Channel = Channel
