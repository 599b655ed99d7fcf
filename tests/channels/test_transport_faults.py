"""Every transport under every fault the chaos run injected, through the delivery engine, against stateful local
fakes (tests/fake_channels.py) that answer the real wire requests, lookups included.

Whatever the fault, a delivery ends delivered with exactly one post on the service (found again by looking it
up when the answer was lost), never dead while the post is live, never posted twice. Webhooks are the exception
by design: a lost answer is sent again with the same ``webhook-id`` for the receiver to drop.
"""

import http.client
import ssl
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import urllib3
from django.utils import timezone

from channels import engine, services
from channels.models import Channel, ChannelThread, Delivery
from integrations.base import Transport, is_network_error
from tests.fake_channels import INSTALL, POST_PATHS, X_USER, Service, config
from tests.fake_services import FakeServices, Fault
from tests.helpers import publish

pytestmark = pytest.mark.django_db

TIMEOUT = 1.0  # the transports' client timeout in these tests
HELD = TIMEOUT + 0.6  # an answer held past it
KINDS = sorted(INSTALL)
FAULTS = {
    "500": Fault("error"),
    "429": Fault("ratelimit", 1),
    "held": Fault("held", HELD),
    "reset": Fault("reset"),
    "close": Fault("close"),
    "close before the work": Fault("close", early=True),
    "reset before the work": Fault("reset", early=True),
}


@pytest.fixture(autouse=True)
def _short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Transport, "timeout", TIMEOUT)


def _channel(kind: str, fake: FakeServices) -> tuple[Channel, Service]:
    service = INSTALL[kind](fake)
    settings, secrets = config(kind, fake.base)
    channel = Channel.objects.create(kind=kind, name=kind, config=settings)
    services.channel_set_credentials(channel=channel, credentials=secrets)
    return channel, service


def _publish(incident: Any, publisher: Any, body: str) -> Delivery:
    return publish(incident, publisher, body).deliveries.get()


def _due(delivery: Delivery) -> None:
    """The backoff has passed: a retry whose time has not come is a duplicate message to the engine."""
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.FAILED).update(
        next_attempt_at=timezone.now()
    )


def _backdate(delivery: Delivery, minutes: int, *fields: str) -> None:
    """Those times of the delivery were ``minutes`` earlier: it has been retrying that long."""
    delivery.refresh_from_db()
    Delivery.objects.filter(pk=delivery.pk).update(
        **{name: getattr(delivery, name) - timedelta(minutes=minutes) for name in fields}
    )


def _settle(delivery: Delivery, tries: int = 6) -> Delivery:
    """Work the delivery as the worker would, without waiting out the backoff."""
    for _ in range(tries):
        _due(delivery)
        outcome = engine.delivery_attempt(delivery.pk)
        if outcome is None or outcome.retry_in is None:
            break
    delivery.refresh_from_db()
    return delivery


def _posts(service: Service, body: str) -> list[dict[str, Any]]:
    return [post for post in service.posts if body in str(post["text"])]


def _reply_path(kind: str, channel: Channel, incident: Any) -> tuple[str, str]:
    if kind == "facebook":
        root = ChannelThread.objects.get(channel=channel, incident=incident).root_id
        return "POST", f"/fb/v25.0/{root}/comments"
    if kind == "reddit":
        return "POST", "/reddit/api/comment/"
    return POST_PATHS[kind]


def _assert_once(
    kind: str, service: Service, delivery: Delivery, body: str, fake: FakeServices | None = None
) -> None:
    trail = " → ".join(f"{seen.method} {seen.path}" for seen in fake.seen) if fake else ""
    assert delivery.state == Delivery.State.DELIVERED, (
        f"{delivery.last_error} (attempt {delivery.attempts}, task {delivery.tasks}) {trail}"
    )
    posts = _posts(service, body)
    if kind == "webhook":  # resent with the same id: the receiver's to drop (Standard Webhooks)
        assert {post["webhook_id"] for post in posts} == {delivery.remote_id}
        return
    assert len(posts) == 1, f"{len(posts)} posts of one update on {kind}"
    post = posts[0]
    ids = {str(post.get(name)) for name in ("id", "ts", "uri", "topic_id") if post.get(name)}
    assert delivery.remote_id.split("|")[0] in ids


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
def test_a_first_post_survives_each_fault_once_and_only_once(kind, fault, fake, make_incident, publisher):
    _, service = _channel(kind, fake)
    incident = make_incident(public=False)
    fake.inject(*POST_PATHS[kind], FAULTS[fault])

    delivery = _settle(_publish(incident, publisher, f"First {kind} {fault}."))

    _assert_once(kind, service, delivery, f"First {kind} {fault}.", fake)
    assert delivery.attempts >= 2  # the fault cost an attempt; the next one found the post or made it


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_in_the_incidents_thread_survives_each_fault(kind, fault, fake, make_incident, publisher):
    channel, service = _channel(kind, fake)
    incident = make_incident(public=False)
    first = _settle(_publish(incident, publisher, "The first update."))
    assert first.state == Delivery.State.DELIVERED
    fake.inject(*_reply_path(kind, channel, incident), FAULTS[fault])

    delivery = _settle(_publish(incident, publisher, f"Reply {kind} {fault}."))

    _assert_once(kind, service, delivery, f"Reply {kind} {fault}.")


def test_a_bluesky_close_without_an_answer_is_retried_not_dead(fake, make_incident, publisher):
    """Issue 11 item 9: httpx.RemoteProtocolError came through atproto unclassified and the delivery died."""
    _, bsky = _channel("bluesky", fake)
    fake.inject(*POST_PATHS["bluesky"], Fault("close"))
    delivery = _publish(make_incident(public=False), publisher, "Closed on us.")

    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert outcome is not None and outcome.retry_in is not None
    assert delivery.state == Delivery.State.FAILED
    assert "could not reach" in delivery.last_error
    assert _settle(delivery).state == Delivery.State.DELIVERED
    assert len(_posts(bsky, "Closed on us.")) == 1


def test_a_fault_while_looking_a_bluesky_post_up_is_retried_then_the_post_is_found(
    fake, make_incident, publisher
):
    """Issue 11 item 10: a fault during the lookup turned into a permanent failure while the post was live."""
    _, bsky = _channel("bluesky", fake)
    fake.inject(*POST_PATHS["bluesky"], Fault("held", HELD))
    fake.inject("GET", "/bsky/xrpc/com.atproto.repo.getRecord", Fault("error"), Fault("reset"))
    delivery = _publish(make_incident(public=False), publisher, "Looked up under fire.")

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    assert delivery.attempts == 2  # held; then, within one attempt: lookup 500, reset, found
    (post,) = _posts(bsky, "Looked up under fire.")
    assert delivery.remote_id == f"{post['uri']}|{post['cid']}"
    lookups = fake.calls("GET", "/bsky/xrpc/com.atproto.repo.getRecord")
    assert {key: values[0] for key, values in lookups[-1].query.items()} == {
        "repo": "northwind.example", "collection": "app.bsky.feed.post", "rkey": post["uri"].rsplit("/", 1)[-1],
    }  # fmt: skip
    assert len(fake.calls(*POST_PATHS["bluesky"])) == 1  # never posted again


def test_an_x_post_is_found_behind_dozens_of_later_posts(fake, make_incident, publisher):
    """Issue 11 item 10: the duplicate check read only the 10 latest posts; 10-39 others had gone out since."""
    _, x = _channel("x", fake)
    fake.inject(*POST_PATHS["x"], Fault("held", HELD))
    delivery = _publish(make_incident(public=False), publisher, "Buried under later posts.")
    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    for n in range(39):  # the account kept posting (other incidents, other people) before the retry
        fake.answer(
            type(fake.seen[0])("POST", "/x/2/tweets", {}, {}, f'{{"text": "Other post {n}"}}'.encode())
        )

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    (post,) = _posts(x, "Buried under later posts.")
    assert delivery.remote_id == post["id"]
    timeline = fake.calls("GET", f"/x/2/users/{X_USER}/tweets")
    assert len(timeline) >= 1 and timeline[0].query["max_results"] == ["100"]
    assert timeline[0].query["start_time"][0] <= delivery.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_x_pages_through_the_timeline(fake, make_incident, publisher):
    _, x = _channel("x", fake)
    fake.inject(*POST_PATHS["x"], Fault("close"))
    delivery = _publish(make_incident(public=False), publisher, "Far down the timeline.")
    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    for n in range(150):
        fake.answer(
            type(fake.seen[0])("POST", "/x/2/tweets", {}, {}, f'{{"text": "Other post {n}"}}'.encode())
        )

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    assert len(_posts(x, "Far down the timeline.")) == 1
    pages = fake.calls("GET", f"/x/2/users/{X_USER}/tweets")
    assert [page.query.get("pagination_token") for page in pages] == [None, ["100"]]


def test_slack_finds_its_message_in_the_thread_by_metadata(fake, make_incident, publisher):
    """Issue 11 item 11: Slack ignores idempotency keys; 27 duplicates after answers held past the timeout."""
    channel, slack = _channel("slack", fake)
    incident = make_incident(public=False)
    root = _settle(_publish(incident, publisher, "Thread root."))
    fake.inject(*POST_PATHS["slack"], Fault("held", HELD))

    delivery = _settle(_publish(incident, publisher, "Slack reply."))

    (post,) = _posts(slack, "Slack reply.")
    assert delivery.state == Delivery.State.DELIVERED and delivery.remote_id == post["ts"]
    key = f"{delivery.update.public_id}-{channel.pk}"  # type: ignore[union-attr]
    assert post["metadata"] == {"event_type": "statushub_update", "event_payload": {"delivery": key}}
    (lookup,) = fake.calls("POST", "/slack/api/conversations.replies")
    arguments = lookup.form()
    assert lookup.headers["Authorization"] == "Bearer xoxb-good"
    assert (arguments["channel"], arguments["ts"], arguments["include_all_metadata"]) == (
        "C0STATUS",
        root.remote_id,
        "1",
    )
    assert float(arguments["oldest"]) <= delivery.created_at.timestamp()


def test_a_facebook_comment_is_found_among_the_posts_comments(fake, make_incident, publisher):
    """Issue 11 item 11: 29 duplicate comments (only feed posts were checked)."""
    _, fb = _channel("facebook", fake)
    incident = make_incident(public=False)
    root = _settle(_publish(incident, publisher, "Page post."))
    path = f"/fb/v25.0/{root.remote_id}/comments"
    fake.inject("POST", path, Fault("held", HELD))

    delivery = _settle(_publish(incident, publisher, "Comment under it."))

    (comment,) = _posts(fb, "Comment under it.")
    assert delivery.state == Delivery.State.DELIVERED and delivery.remote_id == comment["id"]
    (lookup,) = fake.calls("GET", path)
    assert lookup.query["order"] == ["reverse_chronological"]
    assert lookup.headers["Authorization"] == "Bearer page-token"


def test_a_discourse_reply_resent_after_two_minutes_is_found_not_posted_again(fake, make_incident, publisher):
    """Issue 11 item 11: replies were resent after the 2-minute window the transport relied on."""
    _, forum = _channel("discourse", fake)
    incident = make_incident(public=False)
    for n in range(25):  # a long topic: the reply is beyond the first page of posts
        _settle(_publish(incident, publisher, f"Earlier update {n}."))
    fake.inject(*POST_PATHS["discourse"], Fault("held", HELD))
    delivery = _publish(incident, publisher, "Late Discourse reply.")
    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=delivery.created_at - timedelta(minutes=10))

    delivery = _settle(delivery)

    (post,) = _posts(forum, "Late Discourse reply.")
    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.remote_url.endswith(f"/{post['topic_id']}/{post['post_number']}")
    assert fake.calls("GET", f"/discourse/t/{post['topic_id']}/posts.json")


def test_mastodon_past_its_idempotency_hour_looks_the_status_up(fake, make_incident, publisher):
    _, masto = _channel("mastodon", fake)
    fake.inject(*POST_PATHS["mastodon"], Fault("held", HELD))
    delivery = _publish(make_incident(public=False), publisher, "An hour later.")
    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    _backdate(delivery, 70, "created_at", "first_send_at")  # the key was sent over an hour ago
    masto_keys_forgotten = masto  # the fake keeps keys forever; the lookup must find it before any resend
    posts_before = len(fake.calls(*POST_PATHS["mastodon"]))

    delivery = _settle(delivery)

    (post,) = _posts(masto_keys_forgotten, "An hour later.")
    assert delivery.state == Delivery.State.DELIVERED and delivery.remote_id == post["id"]
    assert len(fake.calls(*POST_PATHS["mastodon"])) == posts_before  # found, not resent
    assert fake.calls("GET", "/mastodon/api/v1/accounts/109000000000000001/statuses")


def test_a_refused_lookup_still_posts_rather_than_losing_the_update(fake, make_incident, publisher):
    """A Slack app without channels:history cannot look; the update still goes out (and the log says why)."""
    _, slack = _channel("slack", fake)
    fake.route("POST", "/slack/api/conversations.history")(
        lambda seen, n: (200, {"ok": False, "error": "missing_scope", "needed": "channels:history"}, {})
    )
    fake.inject(*POST_PATHS["slack"], Fault("error"))

    delivery = _settle(_publish(make_incident(public=False), publisher, "No history scope."))

    assert delivery.state == Delivery.State.DELIVERED
    assert len(_posts(slack, "No history scope.")) == 1


class _SdkError(Exception):
    """What an SDK's own wrapper looks like: the network error only as its cause."""


def _wrapped(cause: BaseException) -> _SdkError:
    try:
        raise _SdkError("request failed") from cause
    except _SdkError as exc:
        return exc


@pytest.mark.parametrize(
    "error",
    [
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("timed out"),
        httpx.ConnectError("refused"),
        requests.exceptions.ChunkedEncodingError("Connection broken: IncompleteRead"),
        requests.ConnectionError("reset"),
        urllib3.exceptions.ProtocolError("Connection aborted."),
        http.client.RemoteDisconnected("Remote end closed connection without response"),
        http.client.IncompleteRead(b""),
        ConnectionResetError(104, "Connection reset by peer"),
        ssl.SSLError("bad record mac"),
        _wrapped(httpx.RemoteProtocolError("closed")),
    ],
    ids=lambda error: type(error).__name__,
)
def test_network_errors_from_any_library_are_transient(error):
    assert is_network_error(error)


@pytest.mark.parametrize("error", [ValueError("bug"), KeyError("x"), _wrapped(TypeError("bug"))], ids=repr)
def test_other_errors_are_not_network_errors(error):
    assert not is_network_error(error)


def test_the_engine_retries_an_unclassified_network_error_and_stops_on_a_bug(
    fake, make_incident, publisher, monkeypatch
):
    """Issue 11 item 9: the engine's catch-all marked any error it did not know dead at once."""
    _channel("webhook", fake)
    raised: list[BaseException] = [_wrapped(httpx.RemoteProtocolError("closed")), ValueError("a bug")]

    def send(self: Any, request: Any, thread: Any) -> Any:
        raise raised.pop(0)

    monkeypatch.setattr("integrations.webhook.transport.WebhookTransport.send", send)
    delivery = _publish(make_incident(public=False), publisher, "Unclassified.")

    outcome = engine.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert outcome is not None and outcome.retry_in is not None
    assert (delivery.state, delivery.last_error) == (
        "failed",
        "could not reach the service: the network failed (_SdkError)",
    )

    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == "dead" and "unexpected error (ValueError)" in delivery.last_error


def test_a_worker_killed_before_it_posted_posts_without_looking(fake, make_incident, publisher):
    """The lookup exists for posts an earlier attempt may have made. One killed before it reached the service
    made none: reading the timeline then only adds requests that can fail (in the long chaos run, X deliveries
    that paged through hundreds of other posts failed over and over)."""
    _, x = _channel("x", fake)
    delivery = _publish(make_incident(public=False), publisher, "Nothing sent before the kill.")
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.SENDING, attempts=1, lease_until=timezone.now() - timedelta(seconds=1)
    )  # claimed, then the worker died before the post

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED and delivery.first_send_at is not None
    assert not fake.calls("GET", f"/x/2/users/{X_USER}/tweets")
    assert len(_posts(x, "Nothing sent before the kill.")) == 1


def test_the_lookup_reads_from_the_first_post_attempt_not_from_the_publish(fake, make_incident, publisher):
    _, x = _channel("x", fake)
    fake.inject(*POST_PATHS["x"], Fault("held", HELD))
    delivery = _publish(make_incident(public=False), publisher, "Looked up from the send.")
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(minutes=30))

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    (lookup,) = fake.calls("GET", f"/x/2/users/{X_USER}/tweets")
    start = datetime.fromisoformat(lookup.query["start_time"][0].replace("Z", "+00:00"))
    assert delivery.first_send_at is not None
    assert timedelta(0) <= delivery.first_send_at - start <= timedelta(minutes=3)  # the clock skew allowed
    assert len(_posts(x, "Looked up from the send.")) == 1


def test_a_lookup_that_fails_fast_is_tried_again_within_the_attempt(fake, make_incident, publisher):
    """A read is safe to repeat: a 500 while looking costs a second request, not an attempt and a backoff."""
    _, bsky = _channel("bluesky", fake)
    fake.inject(*POST_PATHS["bluesky"], Fault("held", HELD))
    fake.inject("GET", "/bsky/xrpc/com.atproto.repo.getRecord", Fault("error"))
    delivery = _publish(make_incident(public=False), publisher, "Looked up twice, at once.")

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    assert delivery.attempts == 2  # held; then 500 and found, in one attempt
    assert len(fake.calls("GET", "/bsky/xrpc/com.atproto.repo.getRecord")) == 2
    assert len(_posts(bsky, "Looked up twice, at once.")) == 1


def test_a_lookup_held_past_the_timeout_is_not_repeated_within_the_attempt(fake, make_incident, publisher):
    """Two timeouts in one attempt could outlast its lease: a slow lookup waits for the next attempt."""
    _, bsky = _channel("bluesky", fake)
    fake.inject(*POST_PATHS["bluesky"], Fault("held", HELD))
    fake.inject("GET", "/bsky/xrpc/com.atproto.repo.getRecord", Fault("held", HELD))
    delivery = _publish(make_incident(public=False), publisher, "Looked up slowly.")

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    assert delivery.attempts == 3  # held; lookup held; found
    assert len(_posts(bsky, "Looked up slowly.")) == 1


def test_a_long_retried_x_lookup_reads_only_the_window_its_posts_could_be_in(fake, make_incident, publisher):
    """Retrying for minutes while the account kept posting made every lookup page through all of it: the
    search ends where the last attempt that posted ended (``end_time``)."""
    _, x = _channel("x", fake)
    fake.inject(*POST_PATHS["x"], Fault("held", HELD))
    delivery = _publish(make_incident(public=False), publisher, "Posted long ago, looked up now.")
    _due(delivery)
    engine.delivery_attempt(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.last_send_at is not None and delivery.first_send_at == delivery.last_send_at
    _backdate(delivery, 20, "first_send_at", "last_send_at")  # that attempt was 20 minutes ago
    (post,) = _posts(x, "Posted long ago, looked up now.")
    post["created_at"] -= timedelta(minutes=20)

    delivery = _settle(delivery)

    assert delivery.state == Delivery.State.DELIVERED, delivery.last_error
    (lookup,) = fake.calls("GET", f"/x/2/users/{X_USER}/tweets")
    end = datetime.fromisoformat(lookup.query["end_time"][0].replace("Z", "+00:00"))
    assert timedelta(minutes=15) < timezone.now() - end < timedelta(minutes=20)
    assert delivery.remote_id == post["id"] and len(fake.calls(*POST_PATHS["x"])) == 1  # found, not resent


def test_an_attempt_whose_lookups_outlast_its_lease_posts_nothing(
    fake, make_incident, publisher, monkeypatch
):
    """Lookups that ran past the lease may have let the sweeper hand the delivery to another worker: posting
    then would race that worker's post. The late attempt gives up before the post call."""
    from integrations.x.transport import XTransport

    _, x = _channel("x", fake)
    fake.inject(*POST_PATHS["x"], Fault("error"))
    delivery = _publish(make_incident(public=False), publisher, "Slow lookups.")
    engine.delivery_attempt(delivery.pk)  # the post call got a 500: the next attempt looks first
    _due(delivery)

    def slow_lookup(self, request, thread, lookup):
        Delivery.objects.filter(pk=delivery.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        return None

    monkeypatch.setattr(XTransport, "find_sent", slow_lookup)
    outcome = engine.delivery_attempt(delivery.pk)

    delivery.refresh_from_db()
    assert outcome is not None and outcome.retry_in is not None
    assert "ran out of time" in delivery.last_error
    assert len(fake.calls(*POST_PATHS["x"])) == 1 and not _posts(x, "Slow lookups.")
