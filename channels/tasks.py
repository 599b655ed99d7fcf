import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import connection

from channels.services import deliveries_sweep, delivery_attempt, transports_load

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=None, acks_late=True)
def deliver(self, delivery_id: int) -> str:
    outcome = delivery_attempt(delivery_id)
    if outcome is None:
        return "nothing to do"
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.state


@shared_task
def sweep_deliveries() -> int:
    return deliveries_sweep()


@worker_ready.connect
def _load_transports(**kwargs: Any) -> None:
    """Before the worker says it is ready, so the first publish after a start fans out as fast as the rest."""
    try:
        logger.info("channel integrations loaded: %s", ", ".join(transports_load()) or "none")
    except Exception:  # e.g. the database is not up yet: deliveries load what they need, as before
        logger.exception("could not load the channel integrations ahead of the first delivery")
    finally:
        connection.close()  # this thread runs no tasks: keep no connection open for it
