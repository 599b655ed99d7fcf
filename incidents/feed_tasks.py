"""WebSub: after each publish, tell the configured hub which feeds changed, so it pushes them to subscribers.

The ping is the PubSubHubbub/WebSub publisher convention (``hub.mode=publish&hub.url=<topic>``, form-encoded,
one POST per feed so a hub that reads a single ``hub.url`` misses none). It runs on the worker after the publish
committed: a slow or broken hub delays nobody, and the feeds themselves never depend on it.
"""

import logging
from typing import Any

import httpx
from celery import shared_task
from django.conf import settings
from django.dispatch import receiver

from channels.services import backoff_seconds
from channels.transports import retry_after_seconds, tls_context
from incidents.feeds import feed_topics
from incidents.models import IncidentUpdate
from incidents.signals import update_published
from statushub.lib import outbound
from statushub.lib.after_commit import follow_up_delayed

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 8
USER_AGENT = "StatusHub/0.1 (+status page; WebSub publisher)"


class HubError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def hub_ping(hub: str, topic: str) -> None:
    """One publish notification. Raises ``HubError``; ``permanent`` when asking again cannot help."""
    try:
        # The hub is set by the operator, but checked like every outbound call all the same.
        with outbound.client(timeout=TIMEOUT_SECONDS, verify=tls_context()) as client:
            response = client.post(
                hub, data={"hub.mode": "publish", "hub.url": topic}, headers={"User-Agent": USER_AGENT}
            )
    except outbound.Refused as exc:
        raise HubError(f"the hub could not be reached: {outbound.UNREACHABLE}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise HubError(f"the hub could not be reached: {exc.__class__.__name__}") from exc
    if response.is_success:
        return
    status = response.status_code
    # 408 and 429 say "later"; any other 4xx means the hub refuses this request as it stands.
    permanent = 400 <= status < 500 and status not in (408, 429)
    raise HubError(
        f"the hub answered {status}", permanent=permanent, retry_after=retry_after_seconds(response)
    )


@shared_task(bind=True, max_retries=MAX_ATTEMPTS - 1, acks_late=True)
def websub_ping(self: Any, hub: str, topic: str) -> str:
    try:
        hub_ping(hub, topic)
    except HubError as exc:
        if exc.permanent or self.request.retries >= self.max_retries:
            logger.warning("WebSub ping of %s for %s gave up: %s", hub, topic, exc)
            return "failed"
        logger.info("WebSub ping of %s for %s will be retried: %s", hub, topic, exc)
        raise self.retry(countdown=backoff_seconds(self.request.retries + 1, exc.retry_after)) from exc
    return "pinged"


@receiver(update_published, dispatch_uid="statushub-websub-ping")
def _ping_hub_on_publish(sender: type, update: IncidentUpdate, **kwargs: Any) -> None:
    hub = settings.STATUSHUB_WEBSUB_HUB
    if not hub:
        return
    # Runs after the publish committed: whatever goes wrong here must not turn a published update into an error.
    try:
        for topic in feed_topics(update):
            websub_ping.delay(hub, topic)
    except Exception:
        logger.exception("WebSub pings for update %s could not be queued", update.public_id)
        follow_up_delayed("feed reader pings (WebSub)")
