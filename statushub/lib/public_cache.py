"""A version token for everything the public sees.

Any change to public data bumps it (see ``incidents/signals.py``). Public views use it as
their ETag and the open page's poller sends it back, so "nothing changed" costs one cache
read and no database query, however large the history.
"""

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.core.cache import cache

_KEY = "public-version"
logger = logging.getLogger(__name__)
# While the snapshot renders, pages carry this in place of the version; the builder then swaps in a digest of
# the live region itself (see ``incidents/snapshot.py``).
SNAPSHOT_PLACEHOLDER = "snapshot-live-tag"
_snapshot_rendering: ContextVar[bool] = ContextVar("snapshot_rendering", default=False)


@contextmanager
def snapshot_rendering() -> Iterator[None]:
    token = _snapshot_rendering.set(True)
    try:
        yield
    finally:
        _snapshot_rendering.reset(token)


def public_version() -> str:
    if _snapshot_rendering.get():
        return SNAPSHOT_PLACEHOLDER
    try:
        version = cache.get(_KEY)
    except Exception:
        # Redis is down (restarting): the page must still answer. A version nobody holds makes every poll
        # fetch the page afresh until Redis is back, which costs more but never shows an old state.
        logger.warning("The public version is unreadable; answering without it", exc_info=True)
        return "unknown-" + secrets.token_hex(6)
    if version is None:
        # Cache was emptied (restart, eviction): start a new version; clients simply refetch once.
        version = secrets.token_hex(6)
        if not cache.add(_KEY, version, timeout=None):
            version = cache.get(_KEY) or version
    return str(version)


def bump_public_version() -> str:
    version = secrets.token_hex(6)
    cache.set(_KEY, version, timeout=None)
    return version
