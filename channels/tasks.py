from celery import shared_task

from channels.services import deliveries_sweep, delivery_attempt


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
