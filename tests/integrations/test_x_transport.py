"""X through tweepy, answered by `responses` at the requests boundary: the v2 API's exact requests and real errors."""

import json
import time
from collections.abc import Mapping
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from oauthlib.oauth1.rfc5849 import signature, utils
from twitter_text import parse_tweet

from integrations.base import Message, OutboundError, Thread
from integrations.x.transport import XTransport

API = "https://api.twitter.com"
TWEETS = f"{API}/2/tweets"
ME = f"{API}/2/users/me"
USER_ID = "1456290301216542721"
URL = "https://status.northwind.com/updates/abc123def456/"
KEYS = {
    "consumer_key": "xvz1evFS4wEEPTGEFPHBog",
    "consumer_secret": "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "access_token": "1456290301216542721-NRYKwAhR7tbQjtkPnXqT5bYk9pnYvj",
    "access_token_secret": "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
}
BODY = "We found it. Refunds & credits are automatic."
FIRST = f"Payments failing — Identified\n\n{BODY}\n\n— Dana Whitfield, CEO\n{URL}"
# X's answers (RFC 7807 problems), as seen from the live API.
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}
UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
NO_WRITE = {
    "title": "Forbidden",
    "status": 403,
    "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
    "type": "https://api.twitter.com/2/problems/oauth1-permissions",
}


def _transport(**config: str) -> XTransport:
    return XTransport({"username": "northwind", **config}, dict(KEYS))


def _build(thread: Thread = Thread(), body: str = BODY, url: str = URL, **config: str):  # noqa: B008
    message = Message(
        url=url, title="Payments failing — Identified", author="Dana Whitfield, CEO", document={"body": body}
    )
    transport = _transport(**config)
    return transport, transport.build_request(message, thread, idempotency_key="abc123def456-4")


def _send(thread: Thread = Thread(), **config: str):  # noqa: B008
    transport, request = _build(thread, **config)
    return transport.send(request, thread), request


def _created(tweet_id: str = "1790000000000000001") -> dict[str, object]:
    return {"data": {"id": tweet_id, "text": "…", "edit_history_tweet_ids": [tweet_id]}}


def _signed_with_our_keys(call: responses.Call) -> dict[str, str]:
    """The OAuth 1.0a header's parameters, after checking its HMAC-SHA1 signature against our secrets."""
    wire = call.request
    header = str(wire.headers["Authorization"])
    assert header.startswith("OAuth ")
    params = dict(utils.parse_authorization_header(header))
    query = urlsplit(wire.url).query
    base = signature.signature_base_string(
        wire.method,
        signature.base_string_uri(wire.url),
        signature.normalize_parameters(
            signature.collect_parameters(uri_query=query, headers={"Authorization": header})
        ),
    )
    keys = SimpleNamespace(
        client_secret=KEYS["consumer_secret"], resource_owner_secret=KEYS["access_token_secret"]
    )
    assert utils.unescape(params["oauth_signature"]) == signature.sign_hmac_sha1_with_client(base, keys)
    return params


@responses.activate
def test_it_posts_the_text_signed_with_the_oauth1_user_keys():
    route = responses.post(TWEETS, status=201, json=_created())

    sent, request = _send()

    call = route.calls[0]
    assert json.loads(call.request.body) == {"text": FIRST}
    assert call.request.headers["Content-Type"] == "application/json"
    oauth = _signed_with_our_keys(call)
    assert oauth["oauth_consumer_key"] == KEYS["consumer_key"]
    assert oauth["oauth_token"] == KEYS["access_token"]
    assert oauth["oauth_signature_method"] == "HMAC-SHA1"
    header = call.request.headers["Authorization"]
    assert KEYS["consumer_secret"] not in header and KEYS["access_token_secret"] not in header
    assert call.request.req_kwargs["timeout"] == XTransport.timeout
    assert sent.remote_id == "1790000000000000001"
    assert sent.remote_url == "https://x.com/northwind/status/1790000000000000001"
    assert request == {
        "method": "POST /2/tweets",
        "username": "northwind",
        "text": FIRST,
        "in_reply_to_tweet_id": None,
        "shortened": False,
    }
    assert XTransport.text_of(request) == FIRST
    assert not any(secret in json.dumps(request) for secret in KEYS.values())


@responses.activate
def test_later_updates_reply_to_the_previous_post():
    route = responses.post(TWEETS, status=201, json=_created("1790000000000000003"))

    sent, request = _send(Thread(root_id="1790000000000000001", last_id="1790000000000000002"))

    assert json.loads(route.calls[0].request.body) == {
        "text": FIRST,
        "reply": {"in_reply_to_tweet_id": "1790000000000000002"},
    }
    assert request["in_reply_to_tweet_id"] == "1790000000000000002"
    assert sent.remote_id == "1790000000000000003"


def test_a_long_link_counts_as_23_characters_so_the_whole_update_fits():
    long_url = f"https://status.northwind.com/updates/{'a1b2c3d4' * 30}/"
    body = "Card payments fail for some customers in Europe. We found a faulty config push and are rolling it back now."
    _, request = _build(body=body, url=long_url)

    assert request["shortened"] is False
    assert request["text"].endswith(f"— Dana Whitfield, CEO\n{long_url}")
    assert body in request["text"]
    assert len(request["text"]) > 400  # counted by characters it would never fit
    assert parse_tweet(request["text"]).weightedLength <= 280


def test_cjk_characters_count_double_and_the_body_is_shortened():
    body = "決済処理に障害が発生しています。 原因を調査中です。 " * 4
    full = f"Payments failing — Identified\n\n{body.strip()}\n\n— Dana Whitfield, CEO\n{URL}"
    assert len(full) < 280 < parse_tweet(full).weightedLength

    _, request = _build(body=body)

    assert request["shortened"] is True
    assert request["text"].endswith(
        f"原因を調査中です。 決済処理に障害が発生しています。 …\n\n— Dana Whitfield, CEO\n{URL}"
    )
    assert 260 < parse_tweet(request["text"]).weightedLength <= 280


def test_a_very_long_update_is_cut_at_a_sentence_to_280():
    sentence = "We found it and are rolling back. "
    _, request = _build(body=sentence * 40)
    assert request["shortened"] is True
    assert 280 - len(sentence) < parse_tweet(request["text"]).weightedLength <= 280
    assert request["text"].endswith(f"rolling back. …\n\n— Dana Whitfield, CEO\n{URL}")


@responses.activate
def test_a_handle_typed_with_the_at_sign_still_makes_the_right_link():
    responses.post(TWEETS, status=201, json=_created("1790000000000000004"))
    sent, request = _send(username=" @northwind ")
    assert request["username"] == "northwind"
    assert sent.remote_url == "https://x.com/northwind/status/1790000000000000004"


@responses.activate
def test_api_base_sends_everything_to_the_local_server_signed_for_it():
    route = responses.post("http://127.0.0.1:8765/2/tweets", status=201, json=_created("77"))

    sent, _ = _send(api_base="http://127.0.0.1:8765/")

    assert sent.remote_id == "77"
    assert _signed_with_our_keys(route.calls[0])["oauth_token"] == KEYS["access_token"]


@responses.activate
def test_check_reads_the_authenticated_account():
    route = responses.get(ME, json={"data": {"id": USER_ID, "name": "Northwind", "username": "northwind"}})
    assert _transport().check() == "@northwind on X"
    assert _signed_with_our_keys(route.calls[0])["oauth_consumer_key"] == KEYS["consumer_key"]


@responses.activate
def test_check_says_when_the_keys_belong_to_another_account():
    responses.get(ME, json={"data": {"id": "9", "name": "Dana", "username": "dana_w"}})
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert "@dana_w, not @northwind" in failure.value.message


@responses.activate
def test_check_with_bad_keys_is_permanent_and_does_not_echo_them():
    responses.get(ME, status=401, json=UNAUTHORIZED)
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert "Keys and tokens" in failure.value.message
    assert not any(secret in failure.value.message for secret in KEYS.values())


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "permanent", "says"),
    [
        (401, UNAUTHORIZED, True, "refused the keys"),
        (403, NO_WRITE, True, "Read and write"),
        (
            403,
            {
                **DUPLICATE,
                "detail": "You attempted to reply to a Tweet that is deleted or not visible to you.",
            },
            True,
            "may have been deleted",
        ),
        (
            400,
            {
                "errors": [{"parameters": {"text": [""]}, "message": "Invalid text"}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            },
            True,
            "Invalid text",
        ),
        (
            402,
            {"title": "CreditsDepleted", "detail": "Your account does not have any credits.", "status": 402},
            True,
            "credits",
        ),
        (404, {"title": "Not Found Error", "detail": "Not Found", "status": 404}, True, "404"),
        (500, {"title": "Internal Server Error", "status": 500}, False, "trouble"),
        (503, {"title": "Service Unavailable", "status": 503}, False, "trouble"),
        (429, {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}, False, "limit"),
    ],
)
def test_it_classifies_x_errors(status, body, permanent, says):
    responses.post(TWEETS, status=status, json=body)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent
    assert says in failure.value.message
    assert len(responses.calls) == 1  # no retries, no waiting inside the call


@responses.activate
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "+900"}, 900),
        (  # the daily post cap ran out while the 15-minute window has room: wait for the day's reset
            {
                "x-rate-limit-remaining": "99",
                "x-rate-limit-reset": "+60",
                "x-user-limit-24hour-limit": "17",
                "x-user-limit-24hour-remaining": "0",
                "x-user-limit-24hour-reset": "+36000",
            },
            36000,
        ),
        ({"x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": "+7200"}, 7200),
        ({"x-rate-limit-reset": "+120"}, 120),  # no window says it is empty: the one tweepy reads
        ({}, None),
    ],
)
def test_rate_limits_wait_until_the_exhausted_window_resets(headers, retry_after):
    now = int(time.time())
    absolute = {
        name: str(now + int(value)) if value.startswith("+") else value for name, value in headers.items()
    }
    responses.post(TWEETS, status=429, json={"title": "Too Many Requests", "status": 429}, headers=absolute)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    if retry_after is None:
        assert failure.value.retry_after is None
    else:
        assert failure.value.retry_after == pytest.approx(retry_after, abs=3)


def _timeline(*tweets: Mapping[str, object]) -> dict[str, object]:
    return {"data": list(tweets), "meta": {"result_count": len(tweets)}}


# How X shows our earlier post: the link as t.co with its expansion in the entities, & escaped.
OURS = {
    "id": "1790000000000000009",
    "edit_history_tweet_ids": ["1790000000000000009"],
    "text": FIRST.replace(URL, "https://t.co/AbCdEf123").replace("&", "&amp;"),
    "entities": {
        "urls": [
            {
                "start": 95,
                "end": 118,
                "url": "https://t.co/AbCdEf123",
                "expanded_url": URL,
                "display_url": "status.northwind.com/updates/abc123…",
            }
        ]
    },
}
OTHER = {**OURS, "id": "1790000000000000008", "text": "Payments failing — Investigating https://t.co/Zz"}


@responses.activate
def test_a_duplicate_is_found_among_our_recent_posts_instead_of_failing():
    responses.post(TWEETS, status=403, json=DUPLICATE)
    me = responses.get(ME, json={"data": {"id": USER_ID, "name": "Northwind", "username": "northwind"}})
    timeline = responses.get(f"{API}/2/users/{USER_ID}/tweets", json=_timeline(OTHER, OURS))

    sent, _ = _send()

    assert me.call_count == 1
    call = timeline.calls[0]
    query = parse_qs(urlsplit(call.request.url).query)
    assert query.pop("start_time")[0] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86000))
    assert query == {"max_results": ["100"], "tweet.fields": ["entities,created_at"]}
    _signed_with_our_keys(call)
    assert sent.remote_id == "1790000000000000009"
    assert sent.remote_url == "https://x.com/northwind/status/1790000000000000009"


@responses.activate
def test_a_configured_user_id_saves_asking_who_we_are():
    responses.post(TWEETS, status=403, json=DUPLICATE)
    me = responses.get(ME, json={"data": {"id": "0", "username": "x"}})
    responses.get(f"{API}/2/users/{USER_ID}/tweets", json=_timeline(OURS))

    sent, _ = _send(user_id=USER_ID)

    assert me.call_count == 0
    assert sent.remote_id == "1790000000000000009"


@responses.activate
def test_a_duplicate_that_matches_none_of_our_recent_posts_is_permanent():
    responses.post(TWEETS, status=403, json=DUPLICATE)
    responses.get(f"{API}/2/users/{USER_ID}/tweets", json=_timeline(OTHER))
    with pytest.raises(OutboundError) as failure:
        _send(user_id=USER_ID)
    assert failure.value.permanent is True
    assert "duplicate" in failure.value.message


@responses.activate
@pytest.mark.parametrize(("status", "permanent"), [(403, True), (503, False)])
def test_a_failed_duplicate_lookup_is_permanent_only_if_retrying_cannot_help(status, permanent):
    responses.post(TWEETS, status=403, json=DUPLICATE)
    responses.get(f"{API}/2/users/{USER_ID}/tweets", status=status, json={"title": "x", "status": status})
    with pytest.raises(OutboundError) as failure:
        _send(user_id=USER_ID)
    assert failure.value.permanent is permanent


@responses.activate
@pytest.mark.parametrize(
    "exception",
    [
        requests.ConnectTimeout("timed out"),
        requests.ReadTimeout("timed out"),
        requests.ConnectionError("refused"),
    ],
)
def test_timeouts_and_connection_errors_are_transient(exception):
    responses.post(TWEETS, body=exception)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


@responses.activate
def test_a_success_without_an_id_is_retried_rather_than_recorded():
    responses.post(TWEETS, status=201, json={"data": {}})
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


@responses.activate
def test_missing_keys_are_named_without_calling_x():
    transport = XTransport({"username": "northwind"}, {**KEYS, "access_token_secret": ""})
    with pytest.raises(OutboundError) as failure:
        transport.check()
    assert failure.value.permanent is True
    assert "access token secret missing" in failure.value.message
    assert not responses.calls


def test_the_form_keeps_every_key_secret_and_only_the_username_in_config():
    fields = {field.name: field for field in XTransport.fields}
    assert set(fields) == {"username", *KEYS}
    assert [name for name, field in fields.items() if not field.secret] == ["username"]
    assert "Read and write" in XTransport.connect_help
