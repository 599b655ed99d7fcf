"""Guessing a password is cut short: five wrong ones per person and address in 15 minutes lock that pair out,
on the sign-in page and on every form that asks for the password again; then even the right one is refused."""

import time

import pytest
from django.urls import reverse

from channels.models import Channel
from incidents.models import IncidentUpdate, UpdateDraft
from people.access import REAUTH_SESSION_KEY
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

WRONG = "Tr0ub4dor&3"


def _admin_login(client, username, password, ip="203.0.113.7"):
    return client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_the_sign_in_page_locks_out_after_five_wrong_passwords(client, engineer):
    for _ in range(4):
        assert _admin_login(client, "marco", WRONG).status_code == 200  # the form again, with its error
    assert _admin_login(client, "marco", WRONG).status_code == 429  # the fifth locks out
    locked = _admin_login(client, "marco", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Per person and address: the same person elsewhere, and someone else here, still sign in.
    assert _admin_login(client, "marco", PASSWORD, ip="198.51.100.9").status_code == 302


def test_four_wrong_passwords_then_the_right_one_signs_in(client, engineer):
    for _ in range(4):
        _admin_login(client, "marco", WRONG)
    assert _admin_login(client, "marco", PASSWORD).status_code == 302


def test_password_re_entry_locks_out_too(client, publisher):
    client.force_login(publisher)
    for _ in range(5):
        client.post(reverse("manage:reauth"), {"password": WRONG, "next": "/manage/"})
    locked = client.post(reverse("manage:reauth"), {"password": PASSWORD, "next": "/manage/"})
    assert locked.status_code == 429
    assert REAUTH_SESSION_KEY not in client.session


def test_the_channel_forms_password_locks_out_too(client, publisher):
    channel = Channel.objects.create(
        kind="webhook", name="Partner feed", config={"url": "https://p.example/h"}
    )
    client.force_login(publisher)
    url = reverse("manage:channel-edit", args=[channel.pk])
    data = {"name": "Partner feed", "enabled": "on", "url": "https://p.example/h", "dry_run": "on"}
    for _ in range(5):
        client.post(url, {**data, "reauth-confirm_password": WRONG})
    assert client.post(url, {**data, "reauth-confirm_password": PASSWORD}).status_code == 429
    assert REAUTH_SESSION_KEY not in client.session


def _publishing(client, publisher, make_incident):
    incident = make_incident(public=False)
    client.force_login(publisher)
    draft = UpdateDraft.objects.create(
        incident=incident,
        status="investigating",
        body="We are on it.",
        created_by=publisher,
        last_edited_by=publisher,
    )
    return incident, draft


def test_re_entering_the_password_publishes_at_once(client, publisher, make_incident):
    incident, draft = _publishing(client, publisher, make_incident)
    asked = client.post(reverse("manage:publish", args=[draft.pk]), {"version": str(draft.version)})
    assert asked.status_code == 200 and "Confirm it's you" in asked.content.decode()
    assert not IncidentUpdate.objects.filter(incident=incident).exists()

    wrong = client.post(
        reverse("manage:publish", args=[draft.pk]), {"version": str(draft.version), "password": WRONG}
    )
    assert "That password is not right." in wrong.content.decode()
    assert not IncidentUpdate.objects.filter(incident=incident).exists()

    right = client.post(
        reverse("manage:publish", args=[draft.pk]), {"version": str(draft.version), "password": PASSWORD}
    )
    assert right.status_code == 302 and "/deliveries/" in right["Location"]
    assert IncidentUpdate.objects.filter(incident=incident).count() == 1
    assert time.time() - client.session[REAUTH_SESSION_KEY] < 5


def test_publishings_password_locks_out_too(client, publisher, make_incident):
    incident, draft = _publishing(client, publisher, make_incident)
    url = reverse("manage:publish", args=[draft.pk])
    for _ in range(5):
        client.post(url, {"version": str(draft.version), "password": WRONG})
    assert client.post(url, {"version": str(draft.version), "password": PASSWORD}).status_code == 429
    assert not IncidentUpdate.objects.filter(incident=incident).exists()
