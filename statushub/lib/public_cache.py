"""A version token for everything the public sees.

Any change to public data bumps it (see ``incidents/signals.py``). Public views use it as
their ETag and the open page's poller sends it back, so "nothing changed" costs one cache
read and no database query, however large the history.
"""

import secrets

from django.core.cache import cache

_KEY = "public-version"


def public_version() -> str:
    version = cache.get(_KEY)
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
