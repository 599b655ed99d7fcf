"""The delivery engine's state machine, with the webhook transport answered by respx."""

from datetime import timedelta

import httpx
import pytest
import respx
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from channels import engine, services
from channels.models import Channel, Delivery
from tests.helpers import publish

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/in"


@pytest.fixture
def webhook(db):
    channel = Channel.objects.create(kind="webhook", name="Partner", config={"url": URL})
    services.channel_set_credentials(channel=channel, credentials={"secret": "whsec_" + "QUJD" * 8})
    return channel


def test_publishing_writes_one_delivery_per_channel_with_the_update(
    make_incident, publisher, communicator, webhook
):
    own = Channel.objects.create(kind="webhook", name="Priya's", owner=publisher, config={"url": URL})
    Channel.objects.create(kind="webhook", name="Someone else's", owner=communicator, config={"url": URL})
    Channel.objects.create(kind="webhook", name="Disabled", enabled=False, config={"url": URL})

    update = publish(make_incident(public=False), publisher)

    assert {d.channel for d in update.deliveries.all()} == {webhook, own}
    assert all(d.state == "pending" for d in update.deliveries.all())


def test_credentials_are_encrypted_at_rest(webhook):
    assert "whsec_" not in webhook.encrypted_credentials
    assert "QUJD" not in webhook.encrypted_credentials


@respx.mock
def test_a_delivered_update_records_the_request_and_threads_later_ones(make_incident, publisher, webhook):
    respx.post(URL).mock(return_value=httpx.Response(200))
    incident = make_incident(public=False)
    delivery = publish(incident, publisher).deliveries.get()

    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert outcome is not None and outcome.state == "delivered"
    assert (delivery.state, delivery.attempts) == ("delivered", 1)
    assert delivery.request["url"] == URL
    assert '"body":"We found the cause."' in delivery.request["body"]
    assert engine.delivery_attempt(delivery.pk) is None  # a duplicate task does nothing


def test_dry_run_records_exactly_what_would_be_sent_and_sends_nothing(make_incident, publisher, webhook):
    webhook.dry_run = True
    webhook.save()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(URL)
        delivery = publish(make_incident(public=False), publisher).deliveries.get()
        engine.delivery_attempt(delivery.pk)
        assert not route.called
    delivery.refresh_from_db()
    assert (delivery.state, delivery.remote_id, delivery.dry_run) == ("delivered", "dry-run", True)
    assert delivery.request["headers"]["webhook-id"].endswith(f"-{webhook.pk}")


@respx.mock
def test_a_transient_error_schedules_a_retry_with_backoff(make_incident, publisher, webhook):
    respx.post(URL).mock(return_value=httpx.Response(503, headers={"Retry-After": "120"}))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()

    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert outcome is not None and outcome.retry_in is not None and outcome.retry_in >= 120
    assert delivery.state == "failed"
    assert delivery.next_attempt_at is not None and delivery.next_attempt_at > timezone.now() + timedelta(
        seconds=100
    )
    assert delivery.last_error == "HTTP 503"


@respx.mock
def test_a_permanent_error_stops_at_once_and_flags_the_channel(make_incident, publisher, webhook):
    respx.post(URL).mock(return_value=httpx.Response(410))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()

    engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    webhook.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("dead", 1)
    assert "410" in webhook.problem


@respx.mock
def test_it_gives_up_after_the_last_attempt(make_incident, publisher, webhook):
    respx.post(URL).mock(return_value=httpx.Response(500))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    for _ in range(engine.max_attempts("channel")):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # its retry is due
        engine.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("dead", engine.max_attempts("channel"))


@respx.mock
@override_settings(STATUSHUB_DELIVERY_BACKOFF_SECONDS=5)
def test_retries_come_at_most_15_seconds_apart_and_give_up_after_about_ten_minutes(
    make_incident, publisher, webhook
):
    """A blip at a service (a reset, a 500) costs an update seconds, not minutes: waits double from 5 s up to
    15 s and stay there. A service down for good still ends the delivery (dead, the channel flagged) about
    ten minutes in, as when waits kept doubling to five minutes over eight attempts."""
    respx.post(URL).mock(return_value=httpx.Response(500))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    waits = []
    for _ in range(engine.max_attempts("channel")):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # its retry is due
        outcome = engine.delivery_attempt(delivery.pk)
        assert outcome is not None
        if outcome.retry_in is not None:
            waits.append(outcome.retry_in)
    delivery.refresh_from_db()
    assert delivery.state == "dead"
    assert 4 <= waits[0] <= 6 and 8 <= waits[1] <= 12
    assert max(waits) <= 15 * 1.2
    assert 8 * 60 <= sum(waits) <= 13 * 60


@respx.mock
def test_a_retry_message_that_comes_early_is_left_for_the_scheduled_one(make_incident, publisher, webhook):
    route = respx.post(URL).mock(return_value=httpx.Response(500))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    engine.delivery_attempt(delivery.pk)
    assert engine.delivery_attempt(delivery.pk) is None  # e.g. redelivered by the broker: not due yet
    assert route.call_count == 1


def test_the_sweeper_requeues_deliveries_a_crash_left_behind(make_incident, publisher, webhook, monkeypatch):
    queued = []
    monkeypatch.setattr(engine, "_enqueue", lambda pk, countdown=0: queued.append(pk))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    fresh = Delivery.objects.filter(pk=delivery.pk)

    assert engine.deliveries_sweep() == 0  # too recent to be stuck
    # A worker claimed it and was killed: its lease has not run out yet, so nobody else sends it.
    fresh.update(state="sending", lease_until=timezone.now() + timedelta(seconds=5))
    assert engine.deliveries_sweep() == 0
    fresh.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert engine.deliveries_sweep() == 1
    assert queued == [delivery.pk]
    assert fresh.get().state == "failed"  # claimable again
    assert engine.deliveries_sweep() == 0  # queued once per grace period, not at every sweep


def test_a_claim_holds_a_lease_of_a_few_client_timeouts(make_incident, publisher, webhook, monkeypatch):
    """Not the broker's two-hour visibility timeout: a killed worker's delivery is taken over in under a minute."""
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("held"))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    lease = engine.lease_for(webhook)
    assert timedelta(seconds=20) <= lease <= timedelta(seconds=60)

    claimed = engine._claim(delivery.pk)

    assert isinstance(claimed, Delivery) and claimed.state == "sending"
    assert claimed.lease_until is not None
    assert abs((claimed.lease_until - timezone.now()) - lease) < timedelta(seconds=5)
    assert engine._claim(delivery.pk) is None  # a duplicate message while the lease holds: nothing to do


def test_a_delivery_whose_message_was_lost_is_queued_again_after_the_grace(
    make_incident, publisher, webhook, monkeypatch
):
    queued = []
    monkeypatch.setattr(engine, "_enqueue", lambda pk, countdown=0: queued.append(pk))
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    fresh = Delivery.objects.filter(pk=delivery.pk)
    fresh.update(updated_at=timezone.now() - engine.QUEUED_GRACE + timedelta(seconds=5))
    assert engine.deliveries_sweep() == 0
    fresh.update(updated_at=timezone.now() - engine.QUEUED_GRACE - timedelta(seconds=1))
    assert engine.deliveries_sweep() == 1 and queued == [delivery.pk]
    # A retry whose message was lost (the broker restarted) is found the same way.
    fresh.update(state="failed", next_attempt_at=timezone.now() - engine.QUEUED_GRACE - timedelta(seconds=1))
    assert engine.deliveries_sweep() == 1 and queued == [delivery.pk, delivery.pk]


def test_retry_and_cancel_from_the_deliveries_page(
    client, make_incident, publisher, communicator, engineer, webhook
):
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    url = reverse("manage:deliveries", args=[delivery.update.public_id])  # type: ignore[union-attr]

    client.force_login(engineer)
    assert client.get(url).status_code == 403

    client.force_login(communicator)
    page = client.get(url).content.decode()
    assert "Outbound webhook: Partner" in page and "Pending" in page
    client.post(reverse("manage:delivery-action", args=[delivery.pk]), {"action": "cancel"})
    assert Delivery.objects.get(pk=delivery.pk).state == "cancelled"
    client.post(reverse("manage:delivery-action", args=[delivery.pk]), {"action": "retry"})
    assert Delivery.objects.get(pk=delivery.pk).state == "pending"


def test_a_channel_missing_a_setting_stops_at_once_and_says_which(make_incident, publisher):
    channel = Channel.objects.create(kind="mastodon", name="Half set up", config={})
    delivery = publish(make_incident(public=False), publisher).deliveries.get()

    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    channel.refresh_from_db()
    assert outcome is not None and outcome.state == "dead"
    assert "Missing setting “instance”" in delivery.last_error
    assert channel.problem == delivery.last_error


def test_an_unforeseen_error_stops_the_delivery_instead_of_repeating_it(
    make_incident, publisher, webhook, monkeypatch
):
    from integrations.webhook.transport import WebhookTransport

    def explode(self, request, thread):
        raise ZeroDivisionError("a bug, or an answer nobody foresaw")

    monkeypatch.setattr(WebhookTransport, "send", explode)
    delivery = publish(make_incident(public=False), publisher).deliveries.get()

    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    webhook.refresh_from_db()
    assert outcome is not None and outcome.retry_in is None
    assert (delivery.state, delivery.attempts) == ("dead", 1)
    assert "ZeroDivisionError" in delivery.last_error and webhook.problem == delivery.last_error
    assert engine.deliveries_sweep() == 0  # and nothing brings it back by itself


def test_a_delivery_that_keeps_killing_its_worker_is_stopped_by_the_sweeper(
    make_incident, publisher, webhook, monkeypatch
):
    monkeypatch.setattr(engine, "_enqueue", lambda pk, countdown=0: None)
    delivery = publish(make_incident(public=False), publisher).deliveries.get()
    Delivery.objects.filter(pk=delivery.pk).update(
        state="sending",
        attempts=engine.max_attempts("channel"),
        updated_at=timezone.now() - timedelta(minutes=5),
    )
    engine.deliveries_sweep()
    delivery.refresh_from_db()
    assert delivery.state == "dead" and "never finished" in delivery.last_error


@respx.mock
def test_a_later_update_waits_for_the_earlier_one_so_it_can_reply_to_it(
    make_incident, publisher, webhook, monkeypatch
):
    queued = []
    monkeypatch.setattr(engine, "_enqueue", lambda pk, countdown=0: queued.append(pk))
    respx.post(URL).mock(return_value=httpx.Response(200))
    incident = make_incident(public=False)
    first = publish(incident, publisher).deliveries.get()
    second = publish(incident, publisher).deliveries.get()

    outcome = engine.delivery_attempt(second.pk)  # the worker happened to pick the later one first

    second.refresh_from_db()
    # Its task ends without polling again (no retry): the first one queues it when done.
    assert outcome is not None and outcome.state == "waiting" and outcome.retry_in is None
    assert (second.state, second.attempts, second.tasks) == ("pending", 0, 1)
    Delivery.objects.filter(pk__in=[first.pk, second.pk]).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )
    assert engine.deliveries_sweep() == 1 and queued == [first.pk]  # the one waiting its turn is left alone

    engine.delivery_attempt(first.pk)
    assert queued == [first.pk, second.pk]  # woken by the first
    engine.delivery_attempt(second.pk)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == second.state == "delivered"
    assert (first.tasks, second.tasks) == (1, 2)
    assert second.request["headers"]["webhook-id"] != first.request["headers"]["webhook-id"]
    thread = webhook.threads.get()
    assert (thread.root_id, thread.last_id) == (first.remote_id, second.remote_id)


def test_only_its_owner_retries_or_cancels_a_personal_accounts_delivery(
    client, make_incident, publisher, communicator
):
    own = Channel.objects.create(kind="webhook", name="Priya's", owner=publisher, config={"url": URL})
    delivery = publish(make_incident(public=False), publisher).deliveries.get(channel=own)
    client.force_login(communicator)
    assert (
        client.post(reverse("manage:delivery-action", args=[delivery.pk]), {"action": "cancel"}).status_code
        == 403
    )
    assert Delivery.objects.get(pk=delivery.pk).state == "pending"
    client.force_login(publisher)
    client.post(reverse("manage:delivery-action", args=[delivery.pk]), {"action": "cancel"})
    assert Delivery.objects.get(pk=delivery.pk).state == "cancelled"
