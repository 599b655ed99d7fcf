"""Celery tasks: load by id, call the domain, stay thin."""

from celery import shared_task

from incidents.availability import recompute_component_days
from incidents.feed_tasks import websub_ping  # noqa: F401  (Celery discovers tasks.py modules only)
from incidents.models import Component
from statushub.lib.public_cache import bump_public_version


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def recompute_availability(component_id: int) -> int:
    component = Component.objects.filter(pk=component_id).first()
    if component is None:
        return 0
    written = recompute_component_days(component)
    bump_public_version()
    return written


@shared_task
def recompute_all_availability() -> int:
    written = 0
    for component in Component.objects.all():
        written += recompute_component_days(component)
    bump_public_version()
    return written
