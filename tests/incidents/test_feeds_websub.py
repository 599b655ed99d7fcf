"""WebSub: a publish pings the hub for every feed the update is in, and a hub's refusals are retried when it helps."""

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from incidents import feed_tasks, services
from statushub.lib.outbound import OutboundError
from tests.incidents.test_feeds_helpers import HUB, SITE, S

pytestmark = pytest.mark.django_db


def test_publishing_queues_one_ping_per_affected_feed(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STATUSHUB_WEBSUB_HUB = HUB
    queued = []
    monkeypatch.setattr(feed_tasks.websub_ping, "delay", lambda hub, topic: queued.append((hub, topic)))
    incident = story["incident"]
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(incident=incident, author=publisher, status="postmortem", body="Write-up.")

    api = story["api"].pk
    assert queued == [
        (HUB, f"{SITE}/history.atom"),
        (HUB, f"{SITE}/history.rss"),
        (HUB, f"{SITE}/incidents/{incident.pk}/history.atom"),
        (HUB, f"{SITE}/incidents/{incident.pk}/history.rss"),
        (HUB, f"{SITE}/components/{api}/history.atom"),
        (HUB, f"{SITE}/components/{api}/history.rss"),
    ]


def test_no_hub_configured_means_no_pings(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.STATUSHUB_WEBSUB_HUB = ""
    queued = []
    monkeypatch.setattr(feed_tasks.websub_ping, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        services.update_publish(incident=story["incident"], author=publisher, status="postmortem", body="x")
    assert queued == []


def test_a_broker_outage_never_turns_a_publish_into_an_error(
    story, publisher, settings, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    settings.STATUSHUB_WEBSUB_HUB = HUB

    def broken(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(feed_tasks.websub_ping, "delay", broken)
    with django_capture_on_commit_callbacks(execute=True):
        update = services.update_publish(
            incident=story["incident"], author=publisher, status="postmortem", body="x"
        )
    assert update.pk
    assert "WebSub pings for update" in caplog.text


@respx.mock
def test_the_ping_is_the_form_post_hubs_expect():
    route = respx.post(HUB).mock(return_value=httpx.Response(204))
    feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"hub.mode=publish&hub.url=http%3A%2F%2Flocalhost%3A8000%2Fhistory.atom"


@respx.mock
@pytest.mark.parametrize(
    ("response", "permanent", "retry_after"),
    [
        (httpx.Response(503, headers={"Retry-After": "7"}), False, 7.0),
        (httpx.Response(429), False, None),
        (httpx.Response(400), True, None),
        (httpx.Response(404), True, None),
    ],
)
def test_a_refusing_hub_is_retried_only_when_retrying_can_help(response, permanent, retry_after):
    respx.post(HUB).mock(return_value=response)
    with pytest.raises(OutboundError) as raised:
        feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    assert raised.value.permanent is permanent
    assert raised.value.retry_after == retry_after


@respx.mock
def test_an_unreachable_hub_is_retried():
    respx.post(HUB).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(OutboundError) as raised:
        feed_tasks.hub_ping(HUB, f"{SITE}/history.atom")
    assert not raised.value.permanent


def test_a_hub_setting_that_is_not_a_url_stops_the_process_at_start(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "STATUSHUB_VAR_DIR": str(tmp_path),
        "STATUSHUB_WEBSUB_HUB": "pubsubhubbub.appspot.com",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "STATUSHUB_WEBSUB_HUB must be the hub's http(s) URL" in result.stderr


class _Hub(BaseHTTPRequestHandler):
    pings: list[tuple[str, str]] = []
    refused_once = False

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).pings.append((self.headers["Content-Type"], body))
        # The first ping of the whole page's Atom feed fails, as a busy hub's might: it must be retried.
        page_atom = body.endswith("history.atom") and "components" not in body and "incidents" not in body
        if page_atom and not type(self).refused_once:
            type(self).refused_once = True
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub() -> Iterator[str]:
    _Hub.pings, _Hub.refused_once = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub"
    server.shutdown()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_pings_the_hub_for_every_feed_the_update_is_in(
    worker, hub, settings, make_component, make_incident, publisher
):
    settings.STATUSHUB_WEBSUB_HUB = hub
    api = make_component("API")
    incident = make_incident("Login broken", public=False)
    services.update_publish(
        incident=incident,
        author=publisher,
        status="investigating",
        body="Looking into it.",
        component_statuses={api: S.PARTIAL_OUTAGE},
    )

    topics = [
        f"{SITE}/history.atom",
        f"{SITE}/history.rss",
        f"{SITE}/incidents/{incident.pk}/history.atom",
        f"{SITE}/incidents/{incident.pk}/history.rss",
        f"{SITE}/components/{api.pk}/history.atom",
        f"{SITE}/components/{api.pk}/history.rss",
    ]
    deadline = time.monotonic() + 30
    while len(_Hub.pings) < len(topics) + 1:  # one ping is refused once and retried
        assert time.monotonic() < deadline, _Hub.pings
        time.sleep(0.1)
    time.sleep(0.5)  # nothing more arrives
    assert {content_type for content_type, _ in _Hub.pings} == {"application/x-www-form-urlencoded"}
    forms = [parse_qs(body, strict_parsing=True) for _, body in _Hub.pings]
    assert all(form["hub.mode"] == ["publish"] for form in forms)
    urls = [url for form in forms for url in form["hub.url"]]
    assert sorted(urls) == sorted([*topics, f"{SITE}/history.atom"])
