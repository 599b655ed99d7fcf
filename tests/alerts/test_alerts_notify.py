"""Telling the incident team: Slack (an incoming webhook) and e-mail, on Celery after the commit."""

import json
import logging

import httpx
import pytest
import respx
from django.core import mail

from alerts import services, tasks
from alerts.models import AlertSource
from incidents.models import Incident
from tests.alerts.test_alerts_helpers import am_alert, am_payload, bearer, make_source, post

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T0NW0000/B0ALERTS/Zx4dfGh7uYtRkLmNoPqRsTuV"


@pytest.fixture
def source(db) -> tuple[AlertSource, str]:
    source, token = make_source("alertmanager")
    services.source_set_slack_webhook(source=source, url=SLACK)
    return source, token


@pytest.fixture
def team(publisher, communicator, engineer, django_user_model):
    for user, address in [
        (publisher, "priya@example.com"),
        (communicator, "sam@example.com"),
        (engineer, "marco@example.com"),
    ]:
        user.email = address
        user.save()
    gone = django_user_model.objects.create_user("old", email="old@example.com", is_active=False)
    gone.groups.set(publisher.groups.all())


def _notices(callbacks):
    return [cb for cb in callbacks if getattr(cb, "func", None) is services._enqueue_notifications]


def _open(client, source, django_capture_on_commit_callbacks, **alert):
    src, token = source
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = post(client, src, am_payload(am_alert(**alert)), bearer(token))
    assert response.status_code == 200, response.content
    return response, callbacks


def test_an_alert_that_opens_an_incident_tells_slack_and_mails_publishers_and_communicators(
    client, source, team, make_component, eager, django_capture_on_commit_callbacks
):
    make_component("Payments")
    with respx.mock(assert_all_called=True) as slack:
        route = slack.post(SLACK).respond(200, text="ok")
        _open(client, source, django_capture_on_commit_callbacks)

    incident = Incident.objects.get()
    compose = f"http://localhost:8000/manage/incidents/{incident.pk}/compose/"
    (request,) = [call.request for call in route.calls]
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "text": ":rotating_light: *Draft incident opened by an alert* from Prometheus (production): "
        f"<{compose}|PaymentsErrorRate: Payment API 5xx above 5% for 5 minutes>\n"
        f"SEV1 · detected {incident.detected_at:%H:%M} UTC · Payments (major outage)\n"
        "Nothing is public yet: a publisher writes and publishes the first update."
    }
    assert sorted(m.to[0] for m in mail.outbox) == ["priya@example.com", "sam@example.com"]
    message = mail.outbox[0]
    assert len(message.to) == 1  # one mail each: nobody sees the others' addresses
    assert message.subject == (
        "[StatusHub] Alert opened a draft incident: PaymentsErrorRate: Payment API 5xx above 5% for 5 minutes"
    )
    assert f"Compose the first update: {compose}" in message.body
    assert "Components: Payments (major outage)" in message.body
    assert "Nothing is public yet." in message.body


def test_the_webhook_answers_before_anyone_is_told(client, source, team, django_capture_on_commit_callbacks):
    src, token = source
    with respx.mock(assert_all_called=False) as slack:
        route = slack.post(SLACK).respond(200, text="ok")
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post(client, src, am_payload(), bearer(token))

        assert response.status_code == 200
        assert len(_notices(callbacks)) == 1  # queued on commit, not sent in the request
        assert not route.called and not mail.outbox


def test_repeats_and_alerts_joining_an_open_incident_tell_nobody_again(
    client, source, team, django_capture_on_commit_callbacks
):
    src, token = source
    with django_capture_on_commit_callbacks(execute=False) as first:
        post(client, src, am_payload(), bearer(token))
    with django_capture_on_commit_callbacks(execute=False) as later:
        post(client, src, am_payload(), bearer(token))
        post(client, src, am_payload(am_alert("PaymentsLatency", fingerprint="ff02")), bearer(token))

    assert len(_notices(first)) == 1 and _notices(later) == []


def test_slack_text_is_escaped(client, source, eager, django_capture_on_commit_callbacks):
    with respx.mock() as slack:
        route = slack.post(SLACK).respond(200, text="ok")
        _open(client, source, django_capture_on_commit_callbacks, summary="p99 > 2s & <rising>")

    text = json.loads(route.calls.last.request.content)["text"]
    assert "|PaymentsErrorRate: p99 &gt; 2s &amp; &lt;rising&gt;>" in text
    assert "no component matched" in text


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(503), httpx.Response(429), httpx.ConnectTimeout("slow")],
    ids=["503", "429", "timeout"],
)
def test_transient_slack_errors_are_retried_later(source, make_incident, answer):
    incident = make_incident(public=False)
    src, _token = source
    with respx.mock() as slack:
        route = slack.post(SLACK).mock(side_effect=[answer, httpx.Response(200, text="ok")])
        # apply() runs the retry at once, where a worker would wait the backoff first.
        result = tasks.notify_slack.apply(args=(incident.pk, src.pk))

    assert result.get() == "sent" and route.call_count == 2


def test_slack_gives_up_after_the_last_retry(source, make_incident, caplog):
    incident = make_incident(public=False)
    src, _token = source
    with respx.mock() as slack, caplog.at_level(logging.WARNING):
        slack.post(SLACK).respond(503)
        result = tasks.notify_slack.apply(args=(incident.pk, src.pk), retries=tasks.retries_allowed())

    assert result.get() == "failed"
    assert "Slack answered 503" in caplog.text


def test_a_dead_slack_webhook_stops_at_once_and_its_url_is_never_logged(source, make_incident, eager, caplog):
    incident = make_incident(public=False)
    src, _token = source
    with respx.mock() as slack, caplog.at_level(logging.INFO):
        route = slack.post(SLACK).respond(404, text="no_service")
        result = tasks.notify_slack.delay(incident.pk, src.pk)

    assert result.get() == "failed" and route.call_count == 1
    assert "Slack answered 404 no_service" in caplog.text
    assert "Zx4dfGh7uYtRkLmNoPqRsTuV" not in caplog.text


def test_no_slack_webhook_and_mail_turned_off_send_nothing(make_incident, team, eager):
    incident = make_incident(public=False)
    quiet, _token = make_source("grafana", notify_email=False)

    with respx.mock(assert_all_called=False):  # any request would fail: none is expected
        assert tasks.notify_slack.delay(incident.pk, quiet.pk).get() == "no slack webhook"
    assert tasks.notify_email.delay(incident.pk, quiet.pk).get() == "e-mail off"
    assert not mail.outbox


def test_the_slack_webhook_is_stored_encrypted(source):
    src, _token = source
    src.refresh_from_db()
    assert SLACK not in src.encrypted_credentials and "Zx4dfGh7" not in src.encrypted_credentials
    assert services.source_credentials(src)["slack_webhook_url"] == SLACK
