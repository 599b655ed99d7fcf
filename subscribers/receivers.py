"""What the rest of the system tells us: an update was published; the mail provider saw a bounce, a
complaint or an unsubscribe request sent by mail."""

import logging
import re
from typing import Any

from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent, EventType

from incidents.models import IncidentUpdate
from statushub.lib.after_commit import follow_up_delayed
from subscribers import services
from subscribers.mail import EMAIL
from subscribers.models import Subscriber
from subscribers.tokens import Purpose, read_token

logger = logging.getLogger(__name__)

# Bounced: the address does not exist (anymail maps temporary failures to "deferred", which we ignore).
# Complained: the person marked us as spam. Rejected: the provider will not send to it (suppressed, invalid).
DISABLE_ON = {EventType.BOUNCED, EventType.COMPLAINED, EventType.REJECTED}


def on_update_published(sender: Any, update: IncidentUpdate, **kwargs: Any) -> None:
    """Sent after the publish committed. Queueing must never break a publish: if the broker is down,
    the sweeper fans the update out once it is back."""
    from subscribers.tasks import fan_out

    try:
        fan_out.delay(update.pk)
    except Exception:
        logger.exception("could not queue the subscriber fan-out of update %s; the sweeper will", update.pk)
        follow_up_delayed("subscriber notifications")


def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    if not event.recipient:
        return
    if event.event_type in DISABLE_ON:
        detail = event.description or event.mta_response or event.reject_reason or ""
        reason = f"{esp_name} reported {event.event_type}" + (f": {detail}" if detail else "")
        services.subscriber_disable(email=event.recipient, reason=reason)
    elif event.event_type == EventType.UNSUBSCRIBED:
        for subscriber in Subscriber.objects.filter(email=services.normalise_email(event.recipient)):
            services.subscriber_unsubscribe(subscriber=subscriber, how=f"{esp_name} unsubscribe")


_TOKEN = re.compile(r"unsubscribe\s+(\S+)", re.IGNORECASE)


def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    """The mailto: half of List-Unsubscribe: a mail whose subject carries the signed unsubscribe token."""
    message = event.message
    match = _TOKEN.search((message.subject if message is not None else "") or "")
    if not match:
        return
    found = read_token(EMAIL, Purpose.UNSUBSCRIBE, match.group(1))
    if found is None:
        return
    subscriber = Subscriber.objects.filter(pk=found[0], token_nonce=found[1]).first()
    if subscriber is not None:
        services.subscriber_unsubscribe(subscriber=subscriber, how="mailto")
