"""The beat's listening: every due source polled on its own task (load by id, then act)."""

from celery import shared_task
from django.utils import timezone

from mentions import polling, spikes


@shared_task
def poll_due() -> int:
    due = polling.due_sources(timezone.now())
    for pk in due:
        poll_source.delay(pk)
    return len(due)


@shared_task(acks_late=True)
def poll_source(source_id: int, force: bool = False) -> str:
    result = polling.poll(source_id, force=force)
    if result.skipped:
        return "not due (or being polled)"
    if result.error:
        return f"error: {result.error}"
    return f"heard {result.heard}, stored {result.stored}"


@shared_task
def detect_spike() -> str:
    spike = spikes.detect()
    if spike is None:
        return "no spike"
    sent = spikes.notify(spike)
    return f"spike: {spike.volume} mentions, {sent} told"
