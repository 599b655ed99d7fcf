"""The private-network guard on every outbound call: addresses are resolved and checked when the connection
is opened (so DNS rebinding and redirects cannot slip past), refusals are permanent, and what a person sees
never tells a private address from a closed port, nor shows what an endpoint answered.

The receivers are local fakes on 127.0.0.1, which the tests' settings allow; each test here takes that
allowance away (``production``) as a real deployment has it."""

from typing import Any

import httpx
import pytest
import requests
from django.urls import reverse

from alerts import notify
from channels import engine, services
from channels.models import Channel, Delivery
from channels.services import CheckResult
from incidents import feed_tasks
from incidents import services as incident_services
from statushub.lib import outbound
from statushub.lib.outbound import OutboundError
from subscribers import hooks
from subscribers.models import HookSubscription
from tests.conftest import PASSWORD, free_port
from tests.fake_services import FakeServices

pytestmark = pytest.mark.django_db
REFUSED = f"could not reach the receiver: {outbound.UNREACHABLE}"


@pytest.fixture
def production(settings: Any) -> None:
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = []


@pytest.fixture
def receiver(fake: FakeServices) -> FakeServices:
    """The shared fake server, taking POST /in."""
    fake.route("POST", "/in")(lambda seen, n: (200, {}, {}))
    return fake


@pytest.fixture
def port(receiver: FakeServices) -> int:
    return int(receiver.base.rsplit(":", 1)[1])


def _webhook(url: str) -> Channel:
    return Channel.objects.create(kind="webhook", name="Hook", config={"url": url})


# --- which addresses -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.2", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",  # noqa: S104
        "224.0.0.1", "::1", "::", "fe80::1", "fd00::1",
        "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
        "::127.0.0.1", "::a00:1",  # IPv4-compatible
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 of 127.0.0.1 and 169.254.169.254
        "2002:7f00:1::", "2002:a00:1::1",  # 6to4 of 127.0.0.1 and 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)  # fmt: skip
def test_addresses_inside_a_private_network_are_not_reachable(address, production):
    assert not outbound.is_reachable(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:4700::1111", "64:ff9b::808:808", "2002:5db8:d70e::1", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_reachable_whatever_their_form(address, production):
    assert outbound.is_reachable(address)


def test_the_settings_can_allow_a_private_network(settings):
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["10.20.0.0/16"]
    assert outbound.is_reachable("10.20.3.4") and outbound.is_reachable("::ffff:10.20.3.4")
    assert not outbound.is_reachable("10.21.0.1")


@pytest.mark.parametrize(
    "host", ["[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::ffff:a9fe:a9fe]"]
)
def test_a_hook_address_that_embeds_a_private_ipv4_is_refused_at_registration(host, production):
    with pytest.raises(hooks.HookTargetError, match="private network"):
        hooks.validate_target("webhook", f"https://{host}/in")


def test_plain_http_hooks_are_taken_only_inside_an_allowed_network(settings):
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["127.0.0.0/8"]  # as the embedded demo has it
    for url in ("http://localhost:9000/in", "http://127.0.0.1:9000/in"):
        assert hooks.validate_target("webhook", url) == url
    with pytest.raises(hooks.HookTargetError, match="https://"):
        hooks.validate_target("webhook", "http://hooks.example.com/in")
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = []
    with pytest.raises(hooks.HookTargetError, match="private network"):
        hooks.validate_target("webhook", "http://localhost:9000/in")


# --- channels: at connect time ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:{port}/in",
        "http://localhost:{port}/in",  # a name that resolves to loopback
        "http://[::ffff:127.0.0.1]:{port}/in",
        "http://[::127.0.0.1]:{port}/in",
        "http://10.0.0.1:{port}/in",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_a_webhook_channel_never_connects_inside_a_private_network(url, port, fake, production):
    result = services.channel_check(channel=_webhook(url.format(port=port)))
    assert result == CheckResult(False, REFUSED)
    assert fake.seen == []


def test_a_name_rebound_to_a_private_address_is_refused_when_connecting(monkeypatch, port, fake, settings):
    addresses = {"receiver.example.com": "93.184.215.14"}
    monkeypatch.setattr(outbound, "resolve", lambda host, port: [addresses[host]])
    channel = _webhook(f"http://receiver.example.com:{port}/in")
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = []
    addresses["receiver.example.com"] = "127.0.0.1"  # after it was saved: checked at each connection

    assert services.channel_check(channel=channel) == CheckResult(False, REFUSED)
    assert fake.seen == []

    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]  # allowed: it goes to the address checked
    assert services.channel_check(channel=channel).ok
    assert fake.seen[-1].headers["Host"] == f"receiver.example.com:{port}"


def test_a_refused_delivery_is_dead_at_once_not_retried(make_incident, publisher, port, fake, production):
    _webhook(f"http://localhost:{port}/in")
    update = incident_services.update_publish(
        incident=make_incident(public=False), author=publisher, status="identified", body="Found it."
    )
    delivery = update.deliveries.get()

    engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.state, delivery.last_error, delivery.attempts) == (Delivery.State.DEAD, REFUSED, 1)
    assert fake.seen == []


def test_a_closed_port_and_a_private_address_read_the_same(settings):
    free_port_number = free_port()
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]  # so the closed port is really tried
    closed = services.channel_check(channel=_webhook(f"http://127.0.0.1:{free_port_number}/in"))
    private = services.channel_check(channel=_webhook(f"http://127.0.0.2:{free_port_number}/in"))
    unknown = services.channel_check(channel=_webhook("http://no-such-host.invalid/in"))
    assert closed == private == unknown == CheckResult(False, REFUSED)


def test_test_connection_shows_the_status_and_none_of_the_answer(port, fake):
    fake.route("POST", "/admin")(lambda seen, n: (403, "<h1>Internal admin</h1> token=s3cr3t", {}))
    result = services.channel_check(channel=_webhook(f"{fake.base}/admin"))
    assert result == CheckResult(False, "HTTP 403")
    assert "s3cr3t" not in Channel.objects.get().check_message


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/", "http://[64:ff9b::a9fe:a9fe]/", "http://localhost:8080/"]
)
def test_the_connect_form_says_at_once_that_a_private_address_will_not_be_called(
    url, client, publisher, production
):
    client.force_login(publisher)
    client.post(reverse("manage:reauth"), {"password": PASSWORD})
    page = client.post(
        reverse("manage:channel-new") + "?kind=webhook", {"name": "Hook", "enabled": "on", "url": url}
    ).content.decode()
    assert "This address is inside a private network: StatusHub does not call there." in page
    assert not Channel.objects.exists()


# Every SDK-based channel, pointed at a name that resolves to loopback: no request reaches the fake.
SPECS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "slack": ({"channel": "C0STATUS", "base_url": "{base}/slack/api/"}, {"token": "xoxb-good"}),
    "mastodon": ({"instance": "{base}/mastodon"}, {"access_token": "masto-token"}),
    "bluesky": ({"handle": "northwind.example", "service": "{base}/bsky"}, {"app_password": "abcd-efgh"}),
    "x": ({"username": "northwind", "api_base": "{base}/x"},
          {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}),
    "facebook": ({"page_id": "northwindpage", "api_base": "{base}/fb"}, {"page_access_token": "page-token"}),
    "discourse": ({"forum_url": "{base}/discourse", "category_id": 4, "api_username": "system"},
                  {"api_key": "discourse-key"}),
    "reddit": ({"subreddit": "northwindstatus", "username": "northwind-status", "client_id": "cid",
                "api_base": "{base}/reddit"}, {"client_secret": "csecret", "password": "pw"}),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_sdk_channel_is_refused_inside_a_private_network(kind, port, fake, production):
    config, secrets = SPECS[kind]
    base = f"http://localhost:{port}"
    config = {
        key: value.format(base=base) if isinstance(value, str) else value for key, value in config.items()
    }
    channel = Channel.objects.create(kind=kind, name=kind, config=config)
    services.channel_set_credentials(channel=channel, credentials=secrets)

    result = services.channel_check(channel=channel)

    assert not result.ok and outbound.UNREACHABLE in result.message, result.message
    assert fake.seen == []


# --- the clients themselves: redirects, requests ---------------------------------------------------------


def test_a_redirect_into_a_private_network_is_refused(settings, port, fake):
    settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["127.0.0.1/32"]
    fake.route("GET", "/go")(lambda seen, n: (302, {}, {"Location": f"http://127.0.0.2:{port}/in"}))
    with outbound.client(follow_redirects=True) as client, pytest.raises(outbound.Refused):
        client.get(f"{fake.base}/go")
    with pytest.raises(outbound.Refused):
        outbound.session().get(f"{fake.base}/go", timeout=5)
    assert [seen.path for seen in fake.seen] == ["/go", "/go"]


def test_the_guarded_clients_still_reach_allowed_addresses(port, fake):
    with outbound.client() as client:
        assert client.post(f"{fake.base}/in").status_code == 200
    assert outbound.session().post(f"{fake.base}/in", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError), outbound.client() as client:
        client.get("http://no-such-host.invalid/")
    with pytest.raises(requests.ConnectionError):
        outbound.session().get("http://no-such-host.invalid/", timeout=5)


# --- subscriber hooks, WebSub, alert notices --------------------------------------------------------------


def test_a_hook_to_a_name_on_loopback_is_refused_for_good(port, fake, production):
    request = {"url": f"http://localhost:{port}/in", "body": "{}", "headers": {}}
    with pytest.raises(OutboundError) as refused:
        hooks._post(HookSubscription(kind="webhook"), request)
    assert refused.value.permanent and refused.value.message == f"could not reach it: {outbound.UNREACHABLE}"
    assert fake.seen == []


def test_a_websub_hub_inside_a_private_network_is_not_pinged(port, fake, production):
    with pytest.raises(OutboundError) as refused:
        feed_tasks.hub_ping(f"http://localhost:{port}/in", "https://status.example.com/history.atom")
    assert refused.value.permanent
    assert fake.seen == []


def test_an_alert_notice_to_a_private_network_is_not_sent(port, fake, production):
    with pytest.raises(OutboundError) as refused:
        notify.send_slack(f"http://localhost:{port}/in", "hello")
    assert refused.value.permanent
    assert fake.seen == []


# --- what an answer says ---------------------------------------------------------------------------------


NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": "Fri, 15 Jan 2027 08:02:00 GMT"}, 120.0),  # an HTTP date
        ({"RateLimit-Reset": "45"}, 45.0),  # IETF draft: seconds
        ({"x-rate-limit-reset": str(int(NOW) + 90)}, 90.0),  # X: an epoch
        ({"X-RateLimit-Reset": "2027-01-15T08:05:00.000Z"}, 300.0),  # Mastodon: an ISO time
        ({"Retry-After": "7", "retry-after": "7"}, 7.0),  # slack_sdk keeps both spellings
        ({"retry-after": ["12"]}, 12.0),  # a list of values
        ({"Retry-After": "Fri, 15 Jan 2027 07:00:00 GMT"}, 0.0),  # already past
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_the_wait_a_service_asks_for_is_read_from_any_of_its_headers(headers, wait):
    assert outbound.retry_after_seconds(headers, now=NOW) == wait


@pytest.mark.parametrize(
    ("status", "meaning"),
    [(200, "ok"), (204, "ok"), (408, "transient"), (425, "transient"), (429, "transient"), (500, "transient"),
     (503, "transient"), (400, "permanent"), (401, "permanent"), (404, "permanent"), (410, "permanent"), (422, "permanent")],
)  # fmt: skip
def test_statuses_are_sorted_into_done_later_and_final(status, meaning):
    assert outbound.classify(status) == meaning
    if meaning != "ok":
        error = outbound.error_for(httpx.Response(status, headers={"Retry-After": "9"}), f"HTTP {status}")
        assert error.permanent is (meaning == "permanent")
        assert error.retry_after == (9.0 if meaning == "transient" else None)
