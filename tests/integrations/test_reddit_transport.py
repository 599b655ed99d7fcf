"""Reddit through praw, answered by `responses` at the requests boundary."""

import base64
import json
import time
from urllib.parse import parse_qs

import pytest
import requests
import responses

from integrations.base import Message, OutboundError, Thread
from integrations.reddit.transport import RedditTransport
from statushub.lib import outbound

TOKEN = "https://www.reddit.com/api/v1/access_token"
API = "https://oauth.reddit.com"
SUBMIT, COMMENT = f"{API}/api/submit/", f"{API}/api/comment/"
ME, ABOUT = f"{API}/api/v1/me", f"{API}/r/northwindstatus/about/"
URL = "https://status.example/updates/abc123def456/"
CONFIG = {"subreddit": "r/northwindstatus", "username": "northwind-status", "client_id": "app-client-id"}
SECRETS = {"client_secret": "app-secret-xyz", "password": "hunter2-reddit"}
TAIL = f"— Dana Whitfield, CEO · [Signed update]({URL})"
SUBMITTED = {
    "json": {
        "errors": [],
        "data": {
            "url": "https://www.reddit.com/r/northwindstatus/comments/1abcde/payments_failing_identified/",
            "drafts_count": 0, "id": "1abcde", "name": "t3_1abcde",
        },
    }
}  # fmt: skip


def _commented(**data: object) -> dict[str, object]:
    thing = {"id": "kq7x2mz", "name": "t1_kq7x2mz", "link_id": "t3_1abcde", "parent_id": "t3_1abcde", **data}
    return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": thing}]}}}


def _errors(*errors: list[str]) -> dict[str, object]:
    return {"json": {"errors": [list(error) for error in errors]}}


@pytest.fixture(autouse=True)
def _never_sleeps(monkeypatch):
    """praw sleeps on RATELIMIT and prawcore before retries and to pace calls; a worker must not."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s")

    monkeypatch.setattr(time, "sleep", refuse)


def _token(status: int = 200, **payload: object) -> responses.BaseResponse:
    body = payload or {
        "access_token": "reddit-token",
        "token_type": "bearer",
        "expires_in": 3600,
        "scope": "*",
    }
    return responses.post(TOKEN, status=status, json=body)


def _transport(
    config: dict[str, str] | None = None, secrets: dict[str, str] | None = None
) -> RedditTransport:
    return RedditTransport({**CONFIG, **(config or {})}, SECRETS if secrets is None else secrets)


def _send(thread: Thread = Thread(), body: str = "We found it. Refunds are automatic.", **config: str):  # noqa: B008
    transport = _transport(config)
    message = Message(
        url=URL, title="Payments failing — Identified",
        author="Dana Whitfield, CEO",
        document={"body": body},
    )  # fmt: skip
    request = transport.build_request(message, thread, idempotency_key="abc123def456-4")
    return transport.send(request, thread), request


def _form(call: responses.Call) -> dict[str, list[str]]:
    body = call.request.body
    assert isinstance(body, str | bytes), "praw sends a form-encoded body"
    return parse_qs(body if isinstance(body, str) else body.decode())


@responses.activate
def test_it_logs_in_with_the_password_grant_and_submits_a_self_post():
    _token()
    responses.post(SUBMIT, json=SUBMITTED)
    sent, request = _send()

    login, submit = responses.calls
    assert login.request.url == TOKEN
    basic = base64.b64encode(b"app-client-id:app-secret-xyz").decode()
    assert login.request.headers["Authorization"] == f"Basic {basic}"
    assert _form(login) == {
        "grant_type": ["password"],
        "username": ["northwind-status"],
        "password": ["hunter2-reddit"],
    }
    assert submit.request.url == f"{SUBMIT}?raw_json=1"
    assert submit.request.headers["Authorization"] == "bearer reddit-token"
    assert str(submit.request.headers["User-Agent"]).startswith(
        "StatusHub/0.1 (status page) by u/northwind-status "
    )
    assert submit.request.req_kwargs["timeout"] == RedditTransport.timeout  # type: ignore[attr-defined]
    form = _form(submit)
    assert form["kind"] == ["self"] and form["sr"] == ["northwindstatus"] and form["api_type"] == ["json"]
    assert form["title"] == ["Payments failing — Identified"]
    assert form["text"] == [f"We found it. Refunds are automatic.\n\n{TAIL}"]
    assert "thing_id" not in form
    assert (sent.remote_id, sent.remote_url) == (
        "1abcde",
        "https://www.reddit.com/r/northwindstatus/comments/1abcde/",
    )
    assert "app-secret-xyz" not in json.dumps(request) and "hunter2-reddit" not in json.dumps(request)


@responses.activate
def test_later_updates_comment_on_the_incidents_post_not_on_the_last_comment():
    _token()
    permalink = "/r/northwindstatus/comments/1abcde/payments_failing_identified/kq7x2mz/"
    responses.post(COMMENT, json=_commented(permalink=permalink))
    sent, request = _send(Thread(root_id="1abcde", last_id="kq7a1aa"))

    comment = responses.calls[-1]
    assert comment.request.url == f"{COMMENT}?raw_json=1"
    assert comment.request.headers["Authorization"] == "bearer reddit-token"
    assert _form(comment) == {
        "api_type": ["json"],
        "thing_id": ["t3_1abcde"],
        "text": [f"**Payments failing — Identified**\n\nWe found it. Refunds are automatic.\n\n{TAIL}"],
    }
    assert (sent.remote_id, sent.remote_url) == ("kq7x2mz", f"https://www.reddit.com{permalink}")
    assert request["title"] is None


@responses.activate
def test_a_comment_without_a_permalink_gets_one_built_rather_than_fetched():
    _token()
    responses.post(COMMENT, json=_commented())
    sent, _ = _send(Thread(root_id="1abcde", last_id="1abcde"))
    assert sent.remote_url == "https://www.reddit.com/r/northwindstatus/comments/1abcde/_/kq7x2mz/"
    assert len(responses.calls) == 2


@pytest.mark.parametrize(("thread", "limit"), [(Thread(), 40_000), (Thread("1abcde", "1abcde"), 10_000)])
def test_a_long_update_is_fitted_to_reddits_limits_and_keeps_the_link(thread, limit):
    message = Message(url=URL, title="T " * 200, author="Dana", document={"body": "We found it. " * 5000})
    request = _transport().build_request(message, thread, idempotency_key="k")
    assert request["shortened"] is True
    assert limit - 20 < len(request["text"]) <= limit
    assert request["text"].endswith(f"[Signed update]({URL})")
    assert request["title"] is None or len(request["title"]) <= 300


def test_the_reader_sees_the_posts_title_above_its_text():
    message = Message(url=URL, title="Payments failing — Identified", author="Dana", document={"body": "Hi."})
    transport = _transport()
    post = transport.build_request(message, Thread(), idempotency_key="k")
    comment = transport.build_request(message, Thread("1abcde", "1abcde"), idempotency_key="k")
    assert (
        RedditTransport.text_of(post)
        == f"Payments failing — Identified\n\nHi.\n\n— Dana · [Signed update]({URL})"
    )
    assert RedditTransport.text_of(comment) == comment["text"]


@responses.activate
def test_api_base_points_the_token_and_api_calls_at_a_local_server():
    base = "http://127.0.0.1:8765"
    responses.post(
        f"{base}/api/v1/access_token", json={"access_token": "t", "expires_in": 3600, "scope": "*"}
    )
    responses.post(f"{base}/api/submit/", json=SUBMITTED)
    sent, _ = _send(api_base=f"{base}/")
    assert [call.request.url for call in responses.calls] == [
        f"{base}/api/v1/access_token",
        f"{base}/api/submit/?raw_json=1",
    ]
    assert sent.remote_id == "1abcde"


@responses.activate
def test_check_names_the_account_and_the_subreddit():
    _token()
    # An exhausted rate-limit window would make prawcore sleep before the next call.
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-used": "1000", "x-ratelimit-reset": "420"}
    responses.get(ME, json={"name": "Northwind-Status", "id": "1w72"}, headers=spent)
    about = {"display_name": "NorthwindStatus", "subreddit_type": "public", "submission_type": "any"}
    responses.get(ABOUT, json={"kind": "t5", "data": {**about, "user_is_banned": False}})
    assert _transport().check() == "u/Northwind-Status posting to r/NorthwindStatus"
    assert responses.calls[1].request.headers["Authorization"] == "bearer reddit-token"


@responses.activate
@pytest.mark.parametrize(
    ("about", "says"),
    [
        ({"subreddit_type": "public", "user_is_banned": True}, "banned"),
        ({"subreddit_type": "public", "submission_type": "link"}, "only link posts"),
        (
            {"subreddit_type": "restricted", "user_is_contributor": False, "user_is_moderator": False},
            "approved",
        ),
    ],
)
def test_check_refuses_a_subreddit_the_account_cannot_post_to(about, says):
    _token()
    responses.get(ME, json={"name": "northwind-status"})
    responses.get(ABOUT, json={"kind": "t5", "data": {"display_name": "northwindstatus", **about}})
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert says in failure.value.message


@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404, "json": {"message": "Not Found", "error": 404}},
        {
            "status": 302,
            "headers": {"location": "https://www.reddit.com/subreddits/search.json?q=northwindstatus"},
        },
    ],
)
def test_check_says_when_the_subreddit_does_not_exist(answer):
    _token()
    responses.get(ME, json={"name": "northwind-status"})
    responses.get(ABOUT, **answer)
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert "r/northwindstatus does not exist" in failure.value.message


@responses.activate
def test_check_refuses_a_wrong_password_before_asking_anything_else():
    _token(error="invalid_grant")
    with pytest.raises(OutboundError) as failure:
        _transport().check()
    assert failure.value.permanent is True
    assert "username or password" in failure.value.message
    assert "hunter2-reddit" not in failure.value.message
    assert len(responses.calls) == 1


@responses.activate
def test_missing_credentials_are_reported_without_calling_reddit():
    with pytest.raises(OutboundError) as failure:
        _transport(secrets={"client_secret": "app-secret-xyz"}).check()
    assert failure.value.permanent is True
    assert failure.value.message == "Reddit is not fully connected: password missing."
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize(
    ("message", "retry_after"),
    [
        ("Looks like you've been doing that a lot. Take a break for 5 minutes before trying again.", 300),
        ("Looks like you've been doing that a lot. Take a break for 9 seconds before trying again.", 9),
        (
            "Looks like you've been doing that a lot. Take a break for 500 milliseconds before trying again.",
            1,
        ),
        ("you are doing that too much. try again later.", 60),
    ],
)
def test_reddits_ratelimit_answer_is_retried_later_never_waited_for(message, retry_after):
    _token()
    responses.post(SUBMIT, json=_errors(["RATELIMIT", message, "ratelimit"]))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == retry_after
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize(
    "error",
    [
        ["SUBMIT_VALIDATION_FLAIR_REQUIRED", "Your post must contain post flair.", "flair"],
        ["NO_SELFS", "This community doesn't allow text posts.", "sr"],
        ["TOO_LONG", "This field must be under 300 characters.", "title"],
        ["SUBREDDIT_NOEXIST", "That community doesn't exist.", "sr"],
    ],
)
def test_a_post_reddit_refuses_is_not_retried_and_says_why(error):
    _token()
    responses.post(SUBMIT, json=_errors(error))
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is True
    assert f"{error[1]} ({error[0]})" in failure.value.message


@responses.activate
@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"Retry-After": "7"}, 7),
        ({"x-ratelimit-reset": "42", "x-ratelimit-remaining": "0", "x-ratelimit-used": "1000"}, 42),
    ],
)
def test_too_many_requests_is_retried_after_the_wait_reddit_names(headers, retry_after):
    _token()
    responses.post(SUBMIT, status=429, body="Too Many Requests", headers=headers)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is False
    assert failure.value.retry_after == retry_after


@responses.activate
@pytest.mark.parametrize(
    ("status", "headers", "permanent"),
    [
        (401, {"www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}, True),
        (403, {}, True),
        (404, {}, True),
        (413, {}, True),
        (500, {}, False),
        (502, {}, False),
        (503, {}, False),
        (504, {}, False),
    ],
)
def test_it_classifies_reddits_http_answers_and_leaves_retries_to_the_engine(status, headers, permanent):
    _token()
    responses.post(SUBMIT, status=status, json={"message": "nope", "error": status}, headers=headers)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent
    assert len(responses.calls) == 2, "prawcore must not retry on its own"


@responses.activate
@pytest.mark.parametrize(
    ("status", "payload", "permanent"),
    [
        (200, {"error": "invalid_grant"}, True),
        (200, {"error": "unauthorized_client"}, True),
        (401, {"message": "Unauthorized", "error": 401}, True),
        (429, {"message": "Too Many Requests", "error": 429}, False),
        (503, {"message": "Service Unavailable", "error": 503}, False),
    ],
)
def test_it_classifies_the_token_endpoints_answers(status, payload, permanent):
    _token(status, **payload)
    with pytest.raises(OutboundError) as failure:
        _send()
    assert failure.value.permanent is permanent
    assert len(responses.calls) == 1
    assert "app-secret-xyz" not in failure.value.message


@responses.activate
@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (
            requests.ConnectionError("[Errno 111] Connection refused"),
            f"could not reach Reddit: {outbound.UNREACHABLE}",  # as a private address reads
        ),
        (requests.ReadTimeout("read timed out"), "Reddit did not answer within 10 s"),
    ],
)
def test_an_unreachable_reddit_is_retried_later(failure, says):
    _token()
    responses.post(SUBMIT, body=failure)
    with pytest.raises(OutboundError) as raised:
        _send()
    assert raised.value.permanent is False
    assert raised.value.message == says
    assert len(responses.calls) == 2
