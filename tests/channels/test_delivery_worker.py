"""A real Celery worker on Redis delivers a published update to local endpoints: one flaky, one broken."""

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from channels import services
from channels.models import Channel, Delivery
from incidents import services as incident_services

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class _Receiver(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/flaky":
            status = 503 if self.hits[self.path] <= 2 else 200
        elif self.path == "/broken":
            status = 401
        else:
            status = 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.hits, _Receiver.bodies = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_worker_delivers_retries_and_gives_up_as_each_endpoint_deserves(
    worker, receiver, make_incident, publisher
):
    channels = {}
    for name in ("ok", "flaky", "broken"):
        channels[name] = Channel.objects.create(
            kind="webhook", name=name, config={"url": f"{receiver}/{name}"}
        )
        services.channel_set_credentials(
            channel=channels[name], credentials={"secret": "whsec_" + "QUJD" * 8}
        )

    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="investigating", body="We're on it."
    )

    deadline = time.monotonic() + 30
    while Delivery.objects.filter(update=update, state__in=Delivery.OPEN_STATES).exists():
        assert time.monotonic() < deadline, list(
            Delivery.objects.values_list("channel__name", "state", "last_error")
        )
        time.sleep(0.2)
    states = {d.channel.name: (d.state, d.attempts) for d in Delivery.objects.filter(update=update)}
    assert states == {"ok": ("delivered", 1), "flaky": ("delivered", 3), "broken": ("dead", 1)}
    assert _Receiver.hits == {"/ok": 1, "/flaky": 3, "/broken": 1}
    channels["broken"].refresh_from_db()
    assert "401" in channels["broken"].problem


def test_one_slow_channel_never_holds_up_the_others(threaded_worker, make_incident, publisher):
    """The worker runs a thread pool: a receiver that takes 4 s delays only its own delivery."""
    from tests.fake_services import fake_services

    with fake_services() as fake:

        def slow(seen, n):
            time.sleep(4)
            return 200, {}, {}

        fake.route("POST", "/slow")(slow)
        for name in ("a", "b", "c", "d"):
            fake.route("POST", f"/{name}")(lambda seen, n: (200, {}, {}))
        for name in ("slow", "a", "b", "c", "d"):
            Channel.objects.create(kind="webhook", name=name, config={"url": f"{fake.base}/{name}"})

        started = time.monotonic()
        update = incident_services.update_publish(
            incident=make_incident(public=False), author=publisher, status="investigating", body="On it."
        )
        fast = Delivery.objects.filter(update=update).exclude(channel__name="slow")
        while fast.exclude(state="delivered").exists():
            assert time.monotonic() - started < 3, list(fast.values_list("channel__name", "state"))
            time.sleep(0.05)
        assert Delivery.objects.get(update=update, channel__name="slow").state == "sending"
        while (
            Delivery.objects.filter(update=update, channel__name="slow").exclude(state="delivered").exists()
        ):
            assert time.monotonic() - started < 15
            time.sleep(0.1)


def test_updates_waiting_their_turn_in_a_thread_do_not_poll(threaded_worker, make_incident, publisher):
    """Issue 11, item 14: each later update of an incident waits for the earlier one (it replies to it) without
    re-polling as a Celery retry; the earlier one queues it when done. Five updates, a service that takes 1.5 s
    per post: every delivery takes at most two worker tasks (its own, and the wake), and they land in order."""
    from tests.fake_services import fake_services

    with fake_services() as fake:

        def slow(seen, n):
            time.sleep(1.5)
            return 200, {}, {}

        fake.route("POST", "/slow")(slow)
        Channel.objects.create(kind="webhook", name="slow", config={"url": f"{fake.base}/slow"})
        incident = make_incident(public=False)
        updates = [
            incident_services.update_publish(
                incident=incident, author=publisher, status="investigating", body=f"Update {n}."
            )
            for n in range(5)
        ]
        deliveries = Delivery.objects.filter(update__in=updates)
        deadline = time.monotonic() + 30
        while deliveries.exclude(state="delivered").exists():
            assert time.monotonic() < deadline, list(deliveries.values_list("update_id", "state", "tasks"))
            time.sleep(0.2)

        assert [seen.json()["data"]["body"] for seen in fake.calls("POST", "/slow")] == [
            f"Update {n}." for n in range(5)
        ]
        assert max(deliveries.values_list("tasks", flat=True)) <= 2
