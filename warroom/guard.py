"""The tone guard with the admin's jargon list: what the compose screen, the publish step and the API check."""

import contextlib
import logging

from django.core.cache import cache

from statushub.lib import tone
from warroom.models import JargonTerm

log = logging.getLogger(__name__)
JARGON_CACHE_KEY = "warroom:jargon"
JARGON_CACHE_SECONDS = 60


def jargon_terms() -> list[str]:
    """The admin's list, cached for a minute. Publishing must not depend on the cache: without it, the database."""
    try:
        terms = cache.get(JARGON_CACHE_KEY)
    except Exception:  # Redis down: read the table
        log.warning("Cache unavailable: reading the jargon list from the database")
        return list(JargonTerm.objects.values_list("term", flat=True))
    if terms is None:
        terms = list(JargonTerm.objects.values_list("term", flat=True))
        with contextlib.suppress(Exception):
            cache.set(JARGON_CACHE_KEY, terms, JARGON_CACHE_SECONDS)
    return list(terms)


def forget_jargon(**kwargs: object) -> None:
    """A term added or removed in the admin counts at once, on every process (the cache is shared)."""
    try:
        cache.delete(JARGON_CACHE_KEY)
    except Exception:  # the entry lapses on its own within a minute
        log.warning("Cache unavailable: the jargon list refreshes within %s s", JARGON_CACHE_SECONDS)


def check(text: str, *, kind: tone.Kind = "update") -> tone.Report:
    return tone.check(text, kind=kind, jargon=jargon_terms())
