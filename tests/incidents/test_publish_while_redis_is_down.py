"""Publishing while Redis is down (issue 11, item 12).

The update is committed and signed before any follow-up work starts; Redis being unreachable (a real refused
connection on a closed port, for the cache and for the Celery broker) must not turn that into an error, nor stop
the follow-up hooks after the first that failed. The publisher is told the truth: published, some follow-up
delayed; the delivery sweeper queues what could not be queued once the broker is back.
"""

import json
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from channels.engine import deliveries_sweep
from channels.models import Channel, Delivery
from incidents.models import IncidentUpdate, UpdateDraft
from people.access import REAUTH_SESSION_KEY
from statushub.celery import app as celery_app
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def redis_unreachable(*, broker: bool = True, cache: bool = True) -> Iterator[None]:
    """Point the cache and/or the Celery broker at a port nothing listens on: every call is refused."""
    closed = f"redis://127.0.0.1:{free_port()}/0"
    saved = celery_app.conf.broker_url

    def use_broker(url: str) -> None:
        celery_app.conf["broker_url"] = url
        # Connections are pooled per broker URL: drop the pools so the next task is sent to the new one.
        celery_app._pool = None  # type: ignore[attr-defined]
        celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]

    with ExitStack() as stack:
        if cache:
            stack.enter_context(
                override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": closed}})
            )
        if broker:
            use_broker(closed)
            stack.callback(use_broker, saved)
        yield


def _queued() -> list[str]:
    """The tasks waiting in this test run's queue on the real broker."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    messages = client.lrange(settings.CELERY_TASK_DEFAULT_QUEUE, 0, -1)
    return sorted(json.loads(message)["headers"]["task"] for message in messages)


def _empty_queue_now() -> None:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture(autouse=True)
def _empty_queue() -> Iterator[None]:
    yield
    _empty_queue_now()  # no worker runs here: leave nothing for the next test's worker


def _draft(client, publisher, make_incident) -> UpdateDraft:
    Channel.objects.create(kind="webhook", name="Partners", config={"url": "https://hooks.example/statushub"})
    client.force_login(publisher)
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time()
    session.save()
    incident = make_incident("Card payments failing", public=False)
    client.get(reverse("manage:compose", args=[incident.pk]))
    draft = UpdateDraft.objects.get(incident=incident, published_update__isnull=True)
    client.post(
        reverse("manage:draft", args=[draft.pk]),
        {
            "base_version": draft.version,
            "status": "identified",
            "body": "Refunds are automatic.",
            "next_update": "30",
        },
        HTTP_HX_REQUEST="true",
    )
    return draft


def test_with_redis_down_the_publisher_is_told_published_with_follow_up_delayed(
    client, publisher, make_incident, caplog
):
    draft = _draft(client, publisher, make_incident)
    caplog.set_level(logging.WARNING)

    _empty_queue_now()
    with redis_unreachable():
        response = client.post(reverse("manage:publish", args=[draft.pk]))
        update = IncidentUpdate.objects.get(incident=draft.incident)
        assert response.status_code == 302
        assert response["Location"] == reverse("manage:deliveries", args=[update.public_id])
        page = client.get(response["Location"]).content.decode()

    assert update.signature and update.statement_sha256
    assert "Published and signed." in page
    assert "Some follow-up is delayed" in page and "channel deliveries" in page
    # Every hook was tried on its own, though the first (the public version bump) failed.
    failed = " ".join(r.getMessage() for r in caplog.records)
    for what in ("the refresh of open pages", "channel deliveries", "the public page snapshot"):
        assert f"After the commit, {what} could not be started" in failed
    assert "could not queue the subscriber fan-out" in failed

    # The delivery waits, pending, in the database; once the broker is back the sweeper queues it.
    (delivery,) = Delivery.objects.filter(update=update)
    assert delivery.state == Delivery.State.PENDING
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=delivery.updated_at - timedelta(minutes=3))
    assert deliveries_sweep() == 1
    assert _queued() == ["channels.tasks.deliver"]


def test_a_failing_first_hook_does_not_stop_the_others(client, publisher, make_incident):
    """Only the cache is down: the version bump fails, and the deliveries, snapshot and fan-out are still queued."""
    draft = _draft(client, publisher, make_incident)

    _empty_queue_now()
    with redis_unreachable(broker=False):
        response = client.post(reverse("manage:publish", args=[draft.pk]))

    assert response.status_code == 302
    assert _queued() == [
        "channels.tasks.deliver",
        "incidents.tasks.refresh_snapshot",
        "subscribers.tasks.fan_out",
    ]


def test_the_public_page_still_answers_while_redis_is_down(client, make_incident):
    """Found by the chaos run: the page's ETag read the public version from Redis, so a Redis restart turned
    every poll into a 500."""
    make_incident("Card payments failing")
    with redis_unreachable():
        assert client.get("/").status_code == 200
        assert client.get("/_live/").status_code == 200
