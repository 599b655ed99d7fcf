"""What every outbox shares: channel deliveries, subscribers' hook deliveries and their mail all retry the same way.

``backoff_seconds`` spaces the attempts of any of them: waits double from a base, up to a cap, with jitter so
that retries of a burst do not arrive together, and never sooner than the service asked (Retry-After).
"""

import random

from django.conf import settings

MAX_BACKOFF = 30 * 60  # seconds: the ceiling of backoff_seconds for mail, webhooks and feeds


def backoff_seconds(attempts: int, retry_after: float | None = None, cap: float = MAX_BACKOFF) -> float:
    base = min(cap, settings.STATUSHUB_DELIVERY_BACKOFF_SECONDS * 2 ** max(0, attempts - 1))
    jittered = base * random.uniform(0.8, 1.2)  # noqa: S311  (spreading retries, not security)
    return max(jittered, retry_after or 0.0)
