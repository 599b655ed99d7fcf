"""Staff set up alert sources in the admin: the secret is shown once, with the URL and config to paste."""

import json

import pytest
from django.db import connection

from alerts.models import AlertReceipt, AlertSource
from alerts.services import source_credentials
from people.models import AuditEvent
from tests.alerts.test_alerts_helpers import (
    am_payload,
    bearer,
    generic_payload,
    make_source,
    post,
    signed_headers,
)

pytestmark = pytest.mark.django_db

ADD = "/admin/alerts/alertsource/add/"


def _form(**fields):
    data = {
        "kind": "alertmanager",
        "name": "Prometheus (production)",
        "slug": "prometheus",
        "enabled": "on",
        "component_labels": '["component", "service"]',
        "component_map": "{}",
        "severity_label": "severity",
        "severity_map": "{}",
        "default_severity": "sev3",
        "notify_email": "on",
        "slack_webhook_url": "",
    }
    data.update(fields)
    return data


def _everything_stored() -> str:
    """Every column of every alert source, as text: where a secret must not be."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM alerts_alertsource")
        return json.dumps(cursor.fetchall(), default=str)


def test_adding_a_source_shows_its_token_once_with_the_url_and_alertmanager_config(client, admin_user):
    client.force_login(admin_user)

    response = client.post(ADD, _form())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    source = AlertSource.objects.get()
    page = response.content.decode()
    token = page.split('<code id="alert-secret">')[1].split("</code>")[0]
    assert token.startswith("shalert_") and len(token) == 48
    assert "Webhook URL: <code>http://localhost:8000/hooks/alerts/prometheus/</code>" in page
    assert f'credentials: "{token}"' in page and "send_resolved: true" in page
    assert "it is stored only as a hash and is not shown again" in page

    assert token not in _everything_stored()
    assert source.secret_hint == token[:12] + "…"
    change = client.get(f"/admin/alerts/alertsource/{source.pk}/change/").content.decode()
    assert token not in change and "http://localhost:8000/hooks/alerts/prometheus/" in change
    assert post(client.__class__(), source, am_payload(), bearer(token)).status_code == 200
    assert AuditEvent.objects.get(action="alert_source_secret").actor == admin_user


def test_a_new_secret_replaces_the_old_one_at_once(client, admin_user):
    source, old = make_source("alertmanager")
    client.force_login(admin_user)

    response = client.post(f"/admin/alerts/alertsource/{source.pk}/secret/")

    new = response.content.decode().split('<code id="alert-secret">')[1].split("</code>")[0]
    assert new != old
    hooks = client.__class__()
    assert post(hooks, source, am_payload(), bearer(old)).status_code == 401
    assert post(hooks, source, am_payload(), bearer(new)).status_code == 200
    assert client.get(f"/admin/alerts/alertsource/{source.pk}/secret/").status_code == 405


def test_a_generic_sources_signing_secret_is_encrypted_and_signs(client, admin_user):
    client.force_login(admin_user)

    response = client.post(ADD, _form(kind="generic", name="Uptime checker", slug="uptime"))

    page = response.content.decode()
    secret = page.split('<code id="alert-secret">')[1].split("</code>")[0]
    assert secret.startswith("whsec_") and "webhook-signature" in page
    assert secret not in _everything_stored()
    source = AlertSource.objects.get()
    assert source.token_hash == ""
    body = json.dumps(generic_payload())
    assert post(client.__class__(), source, body, signed_headers(secret, body)).status_code == 200


def test_the_grafana_setup_says_where_the_token_goes(client, admin_user):
    client.force_login(admin_user)

    page = client.post(ADD, _form(kind="grafana", name="Grafana", slug="grafana")).content.decode()

    assert "Authorization Header - Scheme</em> <code>Bearer</code>" in page


def test_mappings_naming_unknown_components_or_severities_are_refused(client, admin_user, make_component):
    make_component("Payments")
    client.force_login(admin_user)

    response = client.post(
        ADD, _form(component_map='{"pay": "Payments", "led": "Ledger"}', severity_map='{"p1": "sev9"}')
    )

    assert response.status_code == 200 and not AlertSource.objects.exists()
    page = response.content.decode()
    assert "No component is named Ledger." in page
    assert "Severities are sev1 to sev4; check p1." in page


def test_the_slack_webhook_is_kept_encrypted_and_never_shown_again(client, admin_user):
    source, _token = make_source("alertmanager")
    client.force_login(admin_user)
    url = "https://hooks.slack.com/services/T0NW0000/B0ALERTS/Zx4dfGh7uYtRkLmNoPqRsTuV"
    change = f"/admin/alerts/alertsource/{source.pk}/change/"

    response = client.post(change, _form(slack_webhook_url=url))

    assert response.status_code == 302
    assert "Zx4dfGh7" not in _everything_stored()
    assert "Zx4dfGh7" not in client.get(change).content.decode()
    listing = client.get("/admin/alerts/alertsource/").content.decode()
    assert 'alt="True"' in listing  # the Slack column

    client.post(change, _form())  # a blank field keeps it
    source.refresh_from_db()
    assert source_credentials(source)["slack_webhook_url"] == url
    client.post(change, _form(clear_slack_webhook="on"))
    source.refresh_from_db()
    assert "slack_webhook_url" not in source_credentials(source)


def test_the_kind_cannot_change_after_creation(client, admin_user):
    source, _token = make_source("alertmanager")
    client.force_login(admin_user)

    client.post(f"/admin/alerts/alertsource/{source.pk}/change/", _form(kind="generic"))

    source.refresh_from_db()
    assert source.kind == "alertmanager"


def test_receipts_show_what_was_sent_escaped(client, admin_user):
    source, token = make_source("alertmanager")
    post(client, source, '{"alerts": "<b>nope</b>"}', bearer(token))
    receipt = AlertReceipt.objects.get()
    client.force_login(admin_user)

    page = client.get(f"/admin/alerts/alertreceipt/{receipt.pk}/change/").content.decode()

    assert "&lt;b&gt;nope&lt;/b&gt;" in page and "<b>nope</b>" not in page
    assert "alerts must be a list of alerts." in page


def test_the_admin_pages_open(client, admin_user):
    source, token = make_source("generic")
    hook, hook_token = make_source("alertmanager")
    post(client, hook, am_payload(), bearer(hook_token))
    client.force_login(admin_user)

    for url in [
        ADD,
        "/admin/alerts/alertsource/",
        f"/admin/alerts/alertsource/{source.pk}/change/",
        "/admin/alerts/alert/",
        "/admin/alerts/alertreceipt/",
    ]:
        assert client.get(url).status_code == 200, url
    assert (
        "webhook-signature" in client.get(f"/admin/alerts/alertsource/{source.pk}/change/").content.decode()
    )
    assert token not in client.get(f"/admin/alerts/alertsource/{source.pk}/change/").content.decode()
