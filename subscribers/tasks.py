"""Celery tasks: load by id and call a service. Started on commit, re-queued by ``sweep`` after a crash."""

from celery import shared_task

from subscribers import hooks, mail, sending
from subscribers.models import HookSubscription, Subscriber
from subscribers.services import ALREADY, CONFIRM


@shared_task(acks_late=True)
def fan_out(update_id: int) -> int:
    return sending.fanout(update_id)


@shared_task(bind=True, max_retries=None, acks_late=True)
def send_mail_batch(self, delivery_ids: list[int]) -> int:
    outcome = sending.send_batch(delivery_ids)
    if outcome.retry_in is not None and outcome.retry_ids:
        raise self.retry(args=(outcome.retry_ids,), countdown=outcome.retry_in)
    return outcome.sent


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver_hook(self, delivery_id: int) -> str:
    outcome = hooks.hook_attempt(delivery_id)
    if outcome is None:
        return "nothing to do"
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task(bind=True, max_retries=5, acks_late=True, default_retry_delay=30)
def send_notice(self, subscriber_id: int, notice: str) -> str:
    """A confirmation or "already subscribed" mail, each to one address on its own connection."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return "gone"
    if notice == CONFIRM and subscriber.state != Subscriber.State.PENDING:
        return "no longer pending"
    if notice not in (CONFIRM, ALREADY):
        raise ValueError(f"unknown notice {notice!r}")
    message = (
        mail.confirm_message(subscriber) if notice == CONFIRM else mail.already_subscribed_message(subscriber)
    )
    try:
        message.send()
    except Exception as exc:  # the mail server or provider is away: try again shortly, a few times
        raise self.retry(exc=exc) from exc
    return notice


@shared_task(bind=True, max_retries=5, acks_late=True, default_retry_delay=30)
def send_hook_notice(self, subscription_id: int, notice: str) -> str:
    subscription = HookSubscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return "gone"
    message = (
        mail.hook_confirm_message(subscription)
        if notice == "confirm"
        else mail.hook_disabled_message(subscription)
    )
    try:
        message.send()
    except Exception as exc:
        raise self.retry(exc=exc) from exc
    return notice


@shared_task
def sweep() -> int:
    return sending.sweep()
