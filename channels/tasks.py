import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import connection

from channels.engine import deliveries_sweep, delivery_attempt, delivery_queue
from channels.services import transports_load

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def deliver(delivery_id: int) -> str:
    """One attempt. A delivery waiting for an earlier one in its thread ends here (that one queues it when done);
    a transient failure queues its own retry. No Celery retries: the database says what is due."""
    outcome = delivery_attempt(delivery_id)
    if outcome is None:
        return "nothing to do"
    if outcome.retry_in is not None:
        try:
            delivery_queue(delivery_id=delivery_id, countdown=outcome.retry_in)
        except Exception:  # the broker is down: the row says when it is due, and the sweeper queues it
            logger.warning(
                "could not queue the retry of delivery %s; the sweeper will", delivery_id, exc_info=True
            )
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
