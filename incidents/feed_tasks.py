"""WebSub: after each publish, tell the configured hub which feeds changed, so it pushes them to subscribers.

The ping is the PubSubHubbub/WebSub publisher convention (``hub.mode=publish&hub.url=<topic>``, form-encoded,
one POST per feed so a hub that reads a single ``hub.url`` misses none). It runs on the worker after the publish
committed: a slow or broken hub delays nobody, and the feeds themselves never depend on it.
"""

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.dispatch import receiver

from incidents.feeds import feed_topics
from incidents.models import IncidentUpdate
from incidents.signals import update_published
from statushub.lib import outbound
from statushub.lib.after_commit import follow_up_delayed
from statushub.lib.outbound import OutboundError
from statushub.lib.outbox import backoff_seconds, max_attempts

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
USER_AGENT = "StatusHub/0.1 (+status page; WebSub publisher)"


def hub_ping(hub: str, topic: str) -> None:
    """One publish notification. Raises ``OutboundError``; ``permanent`` when asking again cannot help."""
    # The hub is set by the operator, but checked like every outbound call all the same.
    with (
        outbound.reaching("the hub", timeout=TIMEOUT_SECONDS),
        outbound.client(timeout=TIMEOUT_SECONDS, headers={"User-Agent": USER_AGENT}) as client,
    ):
        response = client.post(hub, data={"hub.mode": "publish", "hub.url": topic})
    if not response.is_success:
        # 408 and 429 say "later"; any other 4xx means the hub refuses this request as it stands.
        raise outbound.error_for(response, f"the hub answered {response.status_code}")


@shared_task(bind=True, max_retries=None, acks_late=True)  # the limit is a setting: checked below
def websub_ping(self: Any, hub: str, topic: str) -> str:
    try:
        hub_ping(hub, topic)
    except OutboundError as exc:
        if exc.permanent or self.request.retries >= max_attempts("websub") - 1:
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
