"""The incident console, the one-click acknowledgement, the situation feeding the compose screen, and the tone guard
at publish."""

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents import drafts
from incidents.models import IncidentUpdate, ProgressNote, UpdateDraft
from people import tokens
from people.access import REAUTH_SESSION_KEY
from people.models import AuditEvent
from tests.conftest import PASSWORD
from warroom import services as warroom
from warroom.models import JargonTerm, SeverityPolicy, SituationVersion, TimelineEntry

pytestmark = pytest.mark.django_db

HEATED = "This is NOT our fault!!! Obviously the processor broke it. We will be back soon."
CALM = (
    "Checkout is failing for some customers in the US region. We are sorry, and we will update by 10:30 UTC."
)


def _login(client, user):
    client.force_login(user)
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time()
    session.save()


def test_the_console_shows_the_clock_roster_situation_and_flow(client, war, communicator, engineer):
    incident = war["incident"]
    warroom.situation_save(incident=incident, author=engineer, affected="checkout in the US region")
    ProgressNote.objects.create(incident=incident, author=engineer, text="Rolling back the gateway config.")
    _login(client, communicator)

    page = client.get(reverse("manage:incident", args=[incident.pk])).content.decode()

    assert 'class="panel clock clock--ok"' in page or 'class="panel clock clock--amber"' in page
    assert "Draft the first acknowledgement" in page
    assert "Sam Okafor" in page and "Vacant — someone must take this role" in page  # no spokesperson
    assert "Looking at this console now: Sam Okafor" in page
    assert "Rolling back the gateway config." in page
    assert "Marco Rossi updated the situation (version 1)." in page
    assert 'value="checkout in the US region"' in page


def test_the_clock_is_amber_past_half_the_target_and_red_past_it(client, war, communicator):
    incident = war["incident"]
    _login(client, communicator)
    live = reverse("manage:incident-live", args=[incident.pk])

    incident.detected_at = timezone.now() - timedelta(minutes=3)
    incident.save()
    assert "clock--amber" in client.get(live).content.decode()
    incident.detected_at = timezone.now() - timedelta(minutes=6)
    incident.save()
    page = client.get(live).content.decode()
    assert "clock--red" in page and "Red: past the target." in page


def test_the_console_reads_a_fixed_number_of_queries_with_ten_thousand_notes(
    client, war, communicator, engineer
):
    incident = war["incident"]
    _login(client, communicator)
    url = reverse("manage:incident", args=[incident.pk])
    ProgressNote.objects.bulk_create(
        [ProgressNote(incident=incident, author=engineer, text=f"Note {n}") for n in range(10)]
    )
    client.get(url)  # warm the permission caches as a real session would be
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    ProgressNote.objects.bulk_create(
        [ProgressNote(incident=incident, author=engineer, text=f"Note {n}") for n in range(10, 10_000)]
    )
    with CaptureQueriesContext(connection) as many:
        page = client.get(url).content.decode()

    assert len(many) == len(few)
    assert 'Engineers\' notes <span class="muted">(10000)</span>' in page
    assert page.count('class="note"') == 30  # the latest notes only; every note is in the admin


def test_one_click_drafts_the_first_acknowledgement_from_the_template_and_situation(
    client, war, communicator, engineer
):
    incident = war["incident"]
    warroom.situation_save(
        incident=incident,
        author=engineer,
        affected="checkout in the US region",
        workaround="retry a saved card",
    )
    _login(client, communicator)

    response = client.post(reverse("manage:acknowledge", args=[incident.pk]))

    draft = UpdateDraft.objects.get(incident=incident)
    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    assert draft.next_update_at is not None
    assert draft.next_update_at - timezone.now() <= timedelta(minutes=35)  # SEV1: every 30 minutes
    assert draft.body == (
        "We are aware that checkout in the US region is affected. We are investigating and will update by "
        f"{draft.next_update_at:%H:%M} UTC.\n\nIn the meantime: retry a saved card."
    )
    assert draft.status == "investigating"
    assert not IncidentUpdate.objects.exists()  # a person reviews and publishes it


def test_the_compose_screen_offers_each_situation_fact_and_proposes_the_cadence(
    client, war, communicator, engineer
):
    incident = war["incident"]
    warroom.situation_save(incident=incident, author=engineer, customers="about a third of US checkouts")
    warroom.situation_save(incident=incident, author=engineer, customers="about half of US checkouts")
    _login(client, communicator)

    page = client.get(reverse("manage:compose", args=[incident.pk]), follow=True).content.decode()

    assert 'data-fact="Customers affected: about half of US checkouts."' in page  # the current version only
    assert "about a third" not in page
    assert '<option value="30" selected>In 30 minutes (the SEV1 cadence)</option>' in page
    assert SituationVersion.objects.filter(incident=incident).count() == 2  # earlier versions are kept


def test_publishing_past_a_tone_flag_needs_the_confirmation_and_a_reason_kept_in_the_audit_log(
    client, war, publisher
):
    incident = war["incident"]
    draft = UpdateDraft.objects.create(
        incident=incident, status="investigating", body=HEATED, created_by=publisher, last_edited_by=publisher
    )
    _login(client, publisher)
    publish = reverse("manage:publish", args=[draft.pk])

    preview = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    assert "I have stepped away from the mic: publish anyway" in preview
    refused = client.post(publish, {"version": draft.version}, follow=True)
    assert (
        "Not published: the tone guard flagged this draft (blame, heat, vague)." in refused.content.decode()
    )
    no_reason = client.post(publish, {"version": draft.version, "tone_override": "1", "tone_reason": "  "})
    assert no_reason["Location"] == reverse("manage:preview", args=[draft.pk])
    assert not IncidentUpdate.objects.exists()

    client.post(
        publish, {"version": draft.version, "tone_override": "1", "tone_reason": "Legal approved the wording"}
    )

    assert IncidentUpdate.objects.get().body == HEATED
    event = AuditEvent.objects.get(action="tone_override")
    assert event.data == {"reason": "Legal approved the wording", "flags": ["blame", "heat", "vague"]}
    assert event.actor == publisher
    assert TimelineEntry.objects.filter(kind="override", text__contains="Legal approved the wording").exists()


def test_the_reason_survives_the_password_step(client, war, publisher):
    draft = UpdateDraft.objects.create(
        incident=war["incident"],
        status="investigating",
        body=HEATED,
        created_by=publisher,
        last_edited_by=publisher,
    )
    client.force_login(publisher)  # not re-authenticated recently
    carry = {"version": draft.version, "tone_override": "1", "tone_reason": "Approved by legal"}
    asked = client.post(reverse("manage:publish", args=[draft.pk]), carry).content.decode()
    assert 'name="tone_reason" value="Approved by legal"' in asked

    client.post(reverse("manage:publish", args=[draft.pk]), {**carry, "password": PASSWORD})

    assert IncidentUpdate.objects.exists()
    assert AuditEvent.objects.get(action="tone_override").data["reason"] == "Approved by legal"


def test_a_calm_draft_publishes_without_any_confirmation(client, war, publisher):
    draft = UpdateDraft.objects.create(
        incident=war["incident"],
        status="investigating",
        body=CALM,
        created_by=publisher,
        last_edited_by=publisher,
    )
    _login(client, publisher)

    client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version})

    assert IncidentUpdate.objects.get().body == CALM
    assert not AuditEvent.objects.filter(action="tone_override").exists()


def test_jargon_added_in_the_admin_is_flagged_at_once(client, war, publisher):
    body = "Checkout is failing in the US region. Kraken is being restarted; next update by 10:30 UTC."
    draft = UpdateDraft.objects.create(
        incident=war["incident"],
        status="investigating",
        body=body,
        created_by=publisher,
        last_edited_by=publisher,
    )
    _login(client, publisher)
    preview = reverse("manage:preview", args=[draft.pk])
    assert 'data-tone-kind="jargon"' not in client.get(preview).content.decode()

    JargonTerm.objects.create(term="Kraken", note="the payment worker")

    page = client.get(preview).content.decode()
    assert 'data-tone-kind="jargon"' in page and "“Kraken”" in page
    _row, token = tokens.token_create(owner=publisher, name="script", scopes=["incidents:read"])
    api = client.post(
        "/api/v1/tone/check",
        {"text": body},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [(f["kind"], f["text"]) for f in api.json()["flags"]] == [("jargon", "Kraken")]


def test_the_comms_endpoint_answers_with_the_clock_roster_and_promises(client, war, engineer):
    _row, token = tokens.token_create(owner=engineer, name="script", scopes=["incidents:read"])
    incident = war["incident"]

    response = client.get(
        f"/api/v1/incidents/{incident.pk}/comms", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["tta_state"] in ("ok", "amber") and body["tta_running"] is True
    assert body["tta_target_seconds"] == 300 and 120 <= body["tta_seconds"] < 300
    assert body["acknowledged_at"] is None and body["next_update_due_at"] is None and body["promises"] == []
    assert [seat["role"] for seat in body["roster"]][:2] == ["commander", "primary_communicator"]
    missing = client.get("/api/v1/incidents/999999/comms", headers={"Authorization": f"Bearer {token}"})
    assert missing.status_code == 404
    assert client.get(f"/api/v1/incidents/{incident.pk}/comms").status_code == 401


def test_a_note_is_quoted_into_the_shared_draft_from_the_console(client, war, communicator, engineer):
    incident = war["incident"]
    note = ProgressNote.objects.create(
        incident=incident, author=engineer, text="Rolled back.\nErrors falling."
    )
    draft = UpdateDraft.objects.create(
        incident=incident, body="We found the cause.", created_by=communicator, last_edited_by=communicator
    )
    _login(client, communicator)

    response = client.post(reverse("manage:quote-note", args=[note.pk]))

    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    draft.refresh_from_db()
    assert (
        draft.body
        == "We found the cause.\n\n> Rolled back.\n> Errors falling.\n>\n> — Marco Rossi, engineering"
    )
    assert draft.version == 2
    client.force_login(engineer)
    assert client.post(reverse("manage:quote-note", args=[note.pk])).status_code == 403


def test_the_guard_checks_the_words_that_go_out_not_the_ones_first_read(client, war, publisher, communicator):
    draft = UpdateDraft.objects.create(
        incident=war["incident"],
        status="investigating",
        body=CALM,
        created_by=publisher,
        last_edited_by=publisher,
    )
    _login(client, publisher)
    original_publish = drafts.draft_publish

    def heated_meanwhile(**kwargs):  # someone saves heated words between the view's read and the publish
        UpdateDraft.objects.filter(pk=draft.pk).update(body=HEATED)
        return original_publish(**kwargs)

    with mock.patch("console.compose_views.drafts.draft_publish", heated_meanwhile):
        response = client.post(
            reverse("manage:publish", args=[draft.pk])
        )  # no version: nothing pins the words

    assert response["Location"] == reverse("manage:preview", args=[draft.pk])
    assert not IncidentUpdate.objects.exists()


def test_a_broken_template_is_refused_in_the_admin_and_explained_at_the_click(client, war, communicator):
    policy = SeverityPolicy.objects.get(severity="sev1")
    policy.ack_template = "We are aware that {affected is down."
    with pytest.raises(ValidationError):
        policy.full_clean()
    policy.tta_target_minutes = 0
    with pytest.raises(ValidationError):
        policy.full_clean()
    SeverityPolicy.objects.filter(pk=policy.pk).update(ack_template="We are aware that {affected is down.")
    _login(client, communicator)

    page = client.post(reverse("manage:acknowledge", args=[war["incident"].pk]), follow=True).content.decode()

    assert "The SEV1 acknowledgement template cannot be filled" in page
    assert not UpdateDraft.objects.filter(body__contains="aware").exists()


def test_an_accepted_suggestion_goes_after_what_the_draft_already_says(war, lee, communicator):
    draft = UpdateDraft.objects.create(
        incident=war["incident"],
        body="We found the cause.",
        created_by=communicator,
        last_edited_by=communicator,
    )
    suggestion = warroom.suggestion_create(
        incident=war["incident"], author=lee, body="Saved cards still work."
    )

    warroom.suggestion_decide(suggestion=suggestion, by=communicator, accept=True)

    draft.refresh_from_db()
    assert draft.body == "We found the cause.\n\nSaved cards still work."
