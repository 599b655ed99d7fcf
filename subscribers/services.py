"""Writes for e-mail subscribers: asking, confirming, choosing components, leaving, and bounces.

Whatever state an address is in, asking for updates has the same visible outcome: one mail to that address.
A new (or lapsed) address is asked to confirm; a subscribed one gets its manage link. So neither the page
nor the mail behaviour tells a stranger whether an address is subscribed.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.utils import timezone

from incidents.models import Component
from statushub.lib.after_commit import after_commit
from subscribers.models import Subscriber

logger = logging.getLogger(__name__)

CONFIRM = "confirm"
ALREADY = "already"


@dataclass(frozen=True)
class Choice:
    """What someone wants to hear about: everything, or the updates about some components."""

    all_components: bool = True
    components: list[Component] = field(default_factory=list)


def normalise_email(address: str) -> str:
    return address.strip().lower()


def _enqueue_notice(subscriber_id: int, notice: str) -> None:
    from subscribers.tasks import send_notice

    send_notice.delay(subscriber_id, notice)


def _apply_choice(subscriber: Subscriber, choice: Choice) -> None:
    subscriber.all_components = choice.all_components or not choice.components
    subscriber.save(update_fields=["all_components", "updated_at"])
    subscriber.components.set([] if subscriber.all_components else choice.components)


DISABLED_QUIET = timedelta(days=30)


@transaction.atomic
def subscriber_request(*, email: str, choice: Choice) -> Subscriber:
    """Someone asked on the public form for updates at ``email``; one mail is queued either way."""
    subscriber, _ = Subscriber.objects.get_or_create(email=normalise_email(email))
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.is_active:
        # A stranger must not change what a confirmed subscriber gets: they are only reminded of their link.
        notice = ALREADY
    elif (
        subscriber.state == Subscriber.State.DISABLED
        and subscriber.disabled_at
        and subscriber.disabled_at > timezone.now() - DISABLED_QUIET
    ):
        # It bounced or complained lately: mailing it again on anyone's word would hurt the sender's
        # reputation. Nothing is sent; the page the asker sees is the same as always.
        return subscriber
    else:
        subscriber.state = Subscriber.State.PENDING
        subscriber.save(update_fields=["state", "updated_at"])
        _apply_choice(subscriber, choice)
        notice = CONFIRM
    after_commit(partial(_enqueue_notice, subscriber.pk, notice), what="the confirmation mail")
    return subscriber


@transaction.atomic
def subscriber_confirm(*, subscriber: Subscriber) -> Subscriber:
    """The owner of the address clicked its confirmation link: updates start with the next one published."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if not subscriber.is_active:
        subscriber.state = Subscriber.State.ACTIVE
        subscriber.confirmed_at = timezone.now()
        subscriber.unsubscribed_at = subscriber.disabled_at = None
        subscriber.disabled_reason = ""
        subscriber.save()
    return subscriber


@transaction.atomic
def subscriber_set_choice(*, subscriber: Subscriber, choice: Choice) -> Subscriber:
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    _apply_choice(subscriber, choice)
    return subscriber


@transaction.atomic
def subscriber_unsubscribe(*, subscriber: Subscriber, how: str) -> Subscriber:
    """Stop all mail to the address at once; mails already queued are skipped when their batch runs."""
    subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
    if subscriber.state in (Subscriber.State.ACTIVE, Subscriber.State.PENDING):
        subscriber.state = Subscriber.State.UNSUBSCRIBED
        subscriber.unsubscribed_at = timezone.now()
        subscriber.save(update_fields=["state", "unsubscribed_at", "updated_at"])
        logger.info("subscriber %s unsubscribed (%s)", subscriber.pk, how)
    return subscriber


def subscriber_disable(*, email: str, reason: str) -> int:
    """The mail provider says the address bounced or complained: stop mailing it. Returns rows changed."""
    changed = Subscriber.objects.filter(
        email=normalise_email(email),
        state__in=[Subscriber.State.ACTIVE, Subscriber.State.PENDING],
    ).update(
        state=Subscriber.State.DISABLED,
        disabled_at=timezone.now(),
        disabled_reason=reason[:300],
        updated_at=timezone.now(),
    )
    if changed:
        logger.info("subscriber address disabled: %s", reason[:100])
    return changed
