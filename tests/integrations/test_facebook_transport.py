"""The Facebook Page transport at its httpx boundary (respx): the Graph API's exact requests and real error answers."""

import json
import time
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from integrations.base import Message, OutboundError, Thread
from integrations.facebook.transport import FacebookTransport

GRAPH = "https://graph.facebook.com/v25.0"
PAGE = "104729384756"
TOKEN = "EAAGpagetoken123"
URL = "https://status.example/updates/abc123def456/"
FIRST = "Payments failing — Identified\n\nWe found it. Refunds are automatic.\n\n— Dana Whitfield, CEO"

MATCH = {
    "id": f"{PAGE}_901",
    "message": FIRST,
    "permalink_url": "https://www.facebook.com/northwind/posts/pfbid0",
}
# Real header shapes: the business-use-case header maps an object id to a list; the Page and app ones are flat.
BUC_USAGE = json.dumps({PAGE: [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]})
PAGE_USAGE = '{"call_count":100,"total_cputime":4,"total_time":9,"estimated_time_to_regain_access":3}'
APP_USAGE = '{"call_count":100,"total_cputime":10,"total_time":10}'


def _transport(**config: str) -> FacebookTransport:
    return FacebookTransport({"page_id": PAGE, **config}, {"page_access_token": TOKEN})


def _build(thread: Thread = Thread(), body: str = "We found it. Refunds are automatic.", **config: str):  # noqa: B008
    message = Message(
        url=URL, title="Payments failing — Identified", author="Dana Whitfield, CEO", document={"body": body}
    )
    transport = _transport(**config)
    return transport, transport.build_request(message, thread, idempotency_key="abc123def456-4")


def _send(thread: Thread = Thread(), **config: str):  # noqa: B008
    transport, request = _build(thread, **config)
    return transport.send(request, thread), request


def _form(route: respx.Route) -> dict[str, list[str]]:
    return parse_qs(route.calls.last.request.content.decode())


def _error(
    code: int, status: int = 400, headers: dict[str, str] | None = None, **extra: object
) -> httpx.Response:
    error = {
        "message": f"(#{code}) Something",
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbC",
        **extra,
    }
    return httpx.Response(status, json={"error": error}, headers=headers)


@respx.mock
def test_the_first_update_is_a_page_post_with_the_link_and_the_page_token_as_form_fields():
    route = respx.post(f"{GRAPH}/{PAGE}/feed").mock(
        return_value=httpx.Response(200, json={"id": f"{PAGE}_901"})
    )

    sent, request = _send()

    wire = route.calls.last.request
    assert wire.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in wire.headers
    assert TOKEN not in str(wire.url)
    assert _form(route) == {"message": [FIRST], "link": [URL], "access_token": [TOKEN]}
    assert (sent.remote_id, sent.remote_url) == (f"{PAGE}_901", f"https://www.facebook.com/{PAGE}_901")
    assert request["method"] == f"POST /v25.0/{PAGE}/feed"
    assert request["reply_to"] is None
    assert TOKEN not in json.dumps(request)


@respx.mock
def test_later_updates_comment_on_the_first_post_with_the_link_in_the_text():
    root = f"{PAGE}_901"
    route = respx.post(f"{GRAPH}/{root}/comments").mock(
        return_value=httpx.Response(200, json={"id": "901_5550"})
    )

    sent, request = _send(Thread(root_id=root, last_id="901_5549"))

    assert _form(route) == {"message": [f"{FIRST}\n{URL}"], "access_token": [TOKEN]}
    assert request["reply_to"] == root
    assert sent.remote_id == "901_5550"
    assert sent.remote_url == f"https://www.facebook.com/{root}"  # the comment lives under the first post
    assert TOKEN not in json.dumps(request)


def test_the_text_is_the_message_field_and_long_updates_are_fitted_to_5000_characters():
    _, short = _build()
    assert FacebookTransport.text_of(short) == f"{FIRST}\n\n[link preview] {URL}"  # as readers will see it
    assert short["shortened"] is False

    _, long = _build(body="We found it and are rolling back. " * 300)
    assert len(long["form"]["message"]) <= 5000
    assert long["form"]["message"].endswith(" …\n\n— Dana Whitfield, CEO")
    assert long["shortened"] is True


@respx.mock
def test_api_base_and_graph_version_change_where_it_posts():
    route = respx.post(f"http://127.0.0.1:8765/v24.0/{PAGE}/feed").mock(
        return_value=httpx.Response(200, json={"id": f"{PAGE}_902"})
    )
    sent, request = _send(api_base="http://127.0.0.1:8765/", graph_version="v24.0")
    assert route.called
    assert request["url"] == f"http://127.0.0.1:8765/v24.0/{PAGE}/feed"
    assert sent.remote_id == f"{PAGE}_902"


@respx.mock
@pytest.mark.parametrize("version", ["25.0", "v25", "latest", "v25.0/../me"])
def test_a_malformed_graph_version_is_refused_without_calling_facebook(version):
    with pytest.raises(OutboundError) as failure:
        _send(graph_version=version)
    assert failure.value.permanent is True
    assert "v25.0" in failure.value.message
    assert not respx.calls


@respx.mock
def test_check_reads_the_page_with_the_token_in_a_header_not_the_url():
    route = respx.get(f"{GRAPH}/{PAGE}").mock(
        return_value=httpx.Response(200, json={"name": "Northwind Status", "id": PAGE})
    )

    assert _transport().check() == "Facebook Page “Northwind Status”"

    wire = route.calls.last.request
    assert dict(wire.url.params) == {"fields": "name,id"}
    assert wire.headers["authorization"] == f"Bearer {TOKEN}"


@respx.mock
def test_check_with_an_expired_token_is_permanent_and_does_not_echo_it():
    respx.get(f"{GRAPH}/{PAGE}").mock(return_value=_error(190, error_subcode=463))
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert "new long-lived Page access token" in failure.value.message
    assert TOKEN not in failure.value.message


TOKEN_ADVICE = "new long-lived Page access token"
PERMISSION_ADVICE = "Grant pages_manage_posts"


@respx.mock
@pytest.mark.parametrize(
    ("status", "code", "permanent", "advice"),
    [
        (500, 1, False, "busy"),  # API Unknown
        (503, 2, False, "busy"),  # API Service
        (403, 4, False, "busy"),  # app request limit
        (403, 17, False, "busy"),  # user request limit
        (403, 32, False, "busy"),  # Page request limit
        (403, 341, False, "busy"),  # application limit
        (400, 613, False, "busy"),  # calls exceeded the rate limit
        (400, 80001, False, "busy"),  # Pages business-use-case rate limit
        (400, 190, True, TOKEN_ADVICE),  # token expired or invalid
        (400, 102, True, TOKEN_ADVICE),  # session expired
        (403, 10, True, PERMISSION_ADVICE),  # permission denied
        (403, 200, True, PERMISSION_ADVICE),  # permissions error
        (403, 299, True, PERMISSION_ADVICE),
        (400, 3, True, PERMISSION_ADVICE),  # capability missing
        (400, 100, True, "Check the Page ID"),  # invalid parameter
        (400, 1609005, True, "Check the Page ID"),  # could not read the link
    ],
)
def test_it_classifies_graph_error_codes_and_says_what_to_fix(status, code, permanent, advice):
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=_error(code, status))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent
    assert advice in failure.value.message
    assert TOKEN not in failure.value.message


@respx.mock
@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [(502, b"<html>Bad Gateway</html>", False), (503, b"", False), (429, b"{}", False), (404, b"", True)],
)
def test_answers_without_a_graph_error_fall_back_on_the_http_status(status, body, permanent):
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=httpx.Response(status, content=body))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent


@respx.mock
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"X-Business-Use-Case-Usage": BUC_USAGE}, 420.0),
        ({"X-Page-Usage": PAGE_USAGE}, 180.0),
        ({"X-App-Usage": APP_USAGE, "Retry-After": "30"}, 30.0),
        ({"X-Page-Usage": "not json"}, None),
        ({}, None),
    ],
)
def test_throttled_answers_wait_as_long_as_the_usage_headers_say(headers, retry_after):
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=_error(32, 403, headers))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == retry_after


@respx.mock
@pytest.mark.parametrize(("regain_minutes", "retry_after"), [(None, 3600.0), (120, 7200.0)])
def test_a_policy_block_waits_at_least_an_hour(regain_minutes, retry_after):
    headers = {}
    if regain_minutes:
        headers["X-Page-Usage"] = json.dumps(
            {"call_count": 5, "estimated_time_to_regain_access": regain_minutes}
        )
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=_error(368, 403, headers))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == retry_after


@respx.mock
def test_a_duplicate_post_is_found_among_the_pages_recent_posts_instead_of_failing():
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=_error(506, error_subcode=1455006))
    posts = respx.get(f"{GRAPH}/{PAGE}/posts").mock(
        return_value=httpx.Response(
            200, json={"data": [{"id": f"{PAGE}_903", "message": "Something else"}, MATCH]}
        )
    )

    sent, _ = _send()

    wire = posts.calls.last.request
    params = dict(wire.url.params)
    assert int(params.pop("since")) == pytest.approx(time.time() - 86400, abs=60)  # a day back, not 10 posts
    assert params == {"fields": "id,message,permalink_url,created_time", "limit": "100"}
    assert wire.headers["authorization"] == f"Bearer {TOKEN}"
    assert (sent.remote_id, sent.remote_url) == (
        f"{PAGE}_901",
        "https://www.facebook.com/northwind/posts/pfbid0",
    )


@respx.mock
def test_a_duplicate_comment_is_found_among_the_first_posts_recent_comments():
    root = f"{PAGE}_901"
    respx.post(f"{GRAPH}/{root}/comments").mock(return_value=_error(506))
    comments = respx.get(f"{GRAPH}/{root}/comments").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "901_5550", "message": f"{FIRST}\n{URL}"}]})
    )

    sent, _ = _send(Thread(root_id=root, last_id=root))

    params = dict(comments.calls.last.request.url.params)
    assert params == {
        "fields": "id,message,created_time", "order": "reverse_chronological", "filter": "stream", "limit": "100",
    }  # fmt: skip
    assert (sent.remote_id, sent.remote_url) == ("901_5550", f"https://www.facebook.com/{root}")


@respx.mock
def test_a_duplicate_that_matches_no_recent_post_is_permanent():
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=_error(506))
    respx.get(f"{GRAPH}/{PAGE}/posts").mock(
        return_value=httpx.Response(200, json={"data": [{"id": f"{PAGE}_903", "message": "Something else"}]})
    )
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is True
    assert "duplicate" in failure.value.message


@respx.mock
@pytest.mark.parametrize(
    "exception",
    [httpx.ConnectTimeout("timed out"), httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")],
)
def test_timeouts_and_connection_errors_are_transient(exception):
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(side_effect=exception)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


@respx.mock
def test_a_success_without_an_id_is_retried_rather_than_recorded():
    respx.post(f"{GRAPH}/{PAGE}/feed").mock(return_value=httpx.Response(200, json={}))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False


def test_the_form_asks_for_the_page_and_keeps_only_the_token_secret():
    fields = {field.name: field for field in FacebookTransport.fields}
    assert set(fields) == {"page_id", "graph_version", "page_access_token"}
    assert [name for name, field in fields.items() if field.secret] == ["page_access_token"]
    assert fields["graph_version"].default == "v25.0"
