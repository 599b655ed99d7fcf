"""Compose → preview → publish, through the real views, for every role."""

import time

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Component, IncidentUpdate, UpdateDraft
from people.access import REAUTH_SESSION_KEY
from people.models import AuditEvent
from statushub.lib import signing as lib
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, user, *, recently=True):
    client.force_login(user)
    if recently:
        session = client.session
        session[REAUTH_SESSION_KEY] = time.time()
        session.save()


def _draft(client, incident, **data):
    response = client.get(reverse("manage:compose", args=[incident.pk]))
    draft = UpdateDraft.objects.get(incident=incident, published_update__isnull=True)
    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    if data:
        form = {
            "base_version": draft.version,
            "status": incident.status,
            "body": "",
            "next_update": "30",
            **data,
        }
        client.post(reverse("manage:draft", args=[draft.pk]), form, HTTP_HX_REQUEST="true")
        draft.refresh_from_db()
    return draft


@pytest.mark.parametrize(
    ("persona", "compose", "publish"),
    [("engineer", 403, 403), ("communicator", 200, 403), ("publisher", 200, 302), ("admin_user", 200, 302)],
)
def test_who_may_compose_and_who_may_publish(request, client, make_incident, persona, compose, publish):
    incident = make_incident(public=False)
    user = request.getfixturevalue(persona)
    _login(client, user)

    editor = client.get(reverse("manage:compose", args=[incident.pk]), follow=True)
    assert editor.status_code == compose

    draft = UpdateDraft.objects.create(
        incident=incident,
        status="investigating",
        body="We are looking into it.",
        created_by=user,
        last_edited_by=user,
    )
    response = client.post(reverse("manage:publish", args=[draft.pk]))
    assert response.status_code == publish
    assert IncidentUpdate.objects.filter(incident=incident).exists() == (publish == 302)


def test_anonymous_visitors_are_sent_to_log_in(client, make_incident):
    incident = make_incident()
    response = client.get(reverse("manage:compose", args=[incident.pk]))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_publishing_asks_for_the_password_again_after_ten_minutes(client, publisher, make_incident):
    incident = make_incident(public=False)
    _login(client, publisher, recently=False)
    draft = _draft(client, incident, body="We're aware of failed payments.")

    asked = client.post(reverse("manage:publish", args=[draft.pk]), {"version": str(draft.version)})
    assert asked.status_code == 200 and "Confirm and publish" in asked.content.decode()
    assert not IncidentUpdate.objects.filter(incident=incident).exists()

    wrong = client.post(reverse("manage:publish", args=[draft.pk]), {"version": "1", "password": "nope"})
    assert "That password is not right." in wrong.content.decode()
    assert not IncidentUpdate.objects.filter(incident=incident).exists()
    right = client.post(
        reverse("manage:publish", args=[draft.pk]), {"version": str(draft.version), "password": PASSWORD}
    )
    assert right.status_code == 302 and "/deliveries/" in right["Location"]  # no second press
    assert AuditEvent.objects.filter(action="reauth", actor=publisher).exists()
    assert IncidentUpdate.objects.filter(incident=incident).count() == 1


def test_reauth_never_redirects_off_site(client, publisher):
    _login(client, publisher, recently=False)
    response = client.post(reverse("manage:reauth"), {"password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("manage:dashboard")


def test_a_publish_moves_status_components_and_acknowledgement_together_and_is_signed(
    client, publisher, make_incident, make_component
):
    payments = make_component("Payments")
    incident = make_incident("Double charges", public=False)
    _login(client, publisher)
    draft = _draft(
        client, incident, status="identified", body="We found the cause.", next_update="45",
        **{f"component_{payments.pk}": "partial_outage"},
    )  # fmt: skip

    response = client.post(reverse("manage:publish", args=[draft.pk]))

    update = IncidentUpdate.objects.get(incident=incident)
    assert response["Location"] == reverse("manage:deliveries", args=[update.public_id])
    incident.refresh_from_db()
    payments.refresh_from_db()
    assert (incident.status, payments.status) == ("identified", "partial_outage")
    assert incident.acknowledged_at == update.published_at
    assert update.next_update_at is not None
    draft.refresh_from_db()
    assert draft.published_update == update
    assert update.signing_key is not None
    assert lib.verify(
        bytes(update.signing_key.public_key),
        lib.b64decode_signature(update.signature),
        bytes(update.statement),
    )
    statement = lib.parse_statement(bytes(update.statement))
    assert statement["components"] == [
        {"id": str(payments.pk), "name": "Payments", "status": "partial_outage"}
    ]
    assert statement["author"] == {"name": "Priya Raman", "title": ""}

    page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()
    assert "We found the cause." in page
    assert "Next update by" in page
    assert f"Signed by Priya Raman · key <code>{update.signing_key.fingerprint}</code>" in page


def test_autosave_refuses_to_overwrite_someone_elses_newer_text(
    client, publisher, communicator, make_incident
):
    incident = make_incident()
    _login(client, communicator)
    draft = _draft(client, incident, body="Sam's first words")
    stale_version = draft.version - 1

    _login(client, publisher)
    response = client.post(
        reverse("manage:draft", args=[draft.pk]),
        {
            "base_version": stale_version,
            "status": "investigating",
            "body": "Priya's words",
            "next_update": "keep",
        },
        HTTP_HX_REQUEST="true",
    )
    draft.refresh_from_db()
    assert draft.body == "Sam's first words"
    assert "Sam Okafor changed this draft since you opened it." in response.content.decode()

    forced = client.post(
        reverse("manage:draft", args=[draft.pk]),
        {
            "base_version": stale_version,
            "status": "investigating",
            "body": "Priya's words",
            "next_update": "keep",
            "force": "1",
        },
        HTTP_HX_REQUEST="true",
    )
    draft.refresh_from_db()
    assert draft.body == "Priya's words"
    assert f'name="base_version" value="{draft.version}"' in forced.content.decode()


def test_two_people_on_one_draft_are_told_about_each_other(client, publisher, communicator, make_incident):
    incident = make_incident()
    _login(client, communicator)
    draft = _draft(client, incident)
    assert "Also editing" not in client.get(reverse("manage:draft", args=[draft.pk])).content.decode()
    _login(client, publisher)
    page = client.get(reverse("manage:draft", args=[draft.pk])).content.decode()
    assert "Also editing this draft now: Sam Okafor." in page


def test_engineers_notes_stream_beside_the_editor_ready_to_quote(
    client, communicator, engineer, make_incident
):
    incident = make_incident()
    services.note_add(incident=incident, author=engineer, text="Rolled back <b>v2.3</b>")
    _login(client, communicator)
    page = client.get(reverse("manage:notes", args=[incident.pk])).content.decode()
    assert "Marco Rossi" in page
    assert 'data-quote="Rolled back &lt;b&gt;v2.3&lt;/b&gt;"' in page
    assert "<b>v2.3</b>" not in page


def test_the_preview_shows_the_page_json_feeds_and_statement(client, publisher, make_incident):
    incident = make_incident("API down")
    _login(client, publisher)
    draft = _draft(client, incident, status="identified", body="**Cause found**: a bad deploy.")
    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    assert "<strong>Cause found</strong>" in page
    assert "&quot;signature&quot;: &quot;(made when published)&quot;" in page
    assert "&lt;entry&gt;" in page and "&lt;item&gt;" in page
    assert "&quot;status&quot;: &quot;identified&quot;" in page
    assert "Sign and publish as Priya Raman" in page


def test_the_preview_never_says_signed_by_someone_who_cannot_sign(
    client, communicator, publisher, make_incident
):
    incident = make_incident("API down")
    _login(client, communicator)
    draft = _draft(client, incident, status="identified", body="Cause found.")
    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    assert "Signed by Sam Okafor" not in page
    assert "Signed by the publisher who publishes it" in page

    _login(client, publisher)
    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    assert "Signed by Priya Raman" in page


def test_a_drafts_promise_is_not_called_public_until_it_is_published(client, publisher, make_incident):
    incident = make_incident("API down")
    _login(client, publisher)
    draft = _draft(client, incident, status="identified", body="Cause found.", next_update="30")
    page = client.get(reverse("manage:draft", args=[draft.pk])).content.decode()
    assert "shown publicly" not in page
    assert "readers see it once this update is published" in page


def test_an_empty_draft_cannot_be_published(client, publisher, make_incident):
    incident = make_incident()
    _login(client, publisher)
    draft = _draft(client, incident, body="   ")
    client.post(reverse("manage:publish", args=[draft.pk]))
    assert incident.updates.count() == 1  # only the fixture's first update


def test_a_correction_is_a_new_signed_update_and_the_page_shows_both(client, publisher, make_incident):
    incident = make_incident("Refund delays", body="Refunds take 10 days.")
    original = incident.updates.get()
    _login(client, publisher)

    response = client.post(reverse("manage:correct", args=[original.public_id]))
    draft = UpdateDraft.objects.get(corrects=original)
    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    client.post(
        reverse("manage:draft", args=[draft.pk]),
        {
            "base_version": draft.version,
            "status": "investigating",
            "body": "Refunds take 3 days, not 10.",
            "next_update": "none",
        },
    )
    client.post(reverse("manage:publish", args=[draft.pk]))

    correction = IncidentUpdate.objects.get(corrects=original)
    assert lib.parse_statement(bytes(correction.statement))["corrects"] == original.public_id
    original.refresh_from_db()
    assert original.body == "Refunds take 10 days."
    page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()
    assert "Refunds take 10 days." in page and "Refunds take 3 days, not 10." in page
    assert f'This corrects <a href="#update-{original.public_id}">' in page
    assert f'Corrected by <a href="#update-{correction.public_id}">' in page
    assert AuditEvent.objects.filter(action="correction").count() == 1


def test_a_publisher_sets_how_they_appear_on_updates(client, publisher, make_incident):
    _login(client, publisher)
    client.post(reverse("manage:profile"), {"display_name": "Priya R.", "title": "VP Engineering"})
    incident = make_incident(public=False)
    draft = _draft(client, incident, body="Looking into it.")
    client.post(reverse("manage:publish", args=[draft.pk]))
    assert incident.updates.get().author_line == "Priya R., VP Engineering"


def test_components_keep_their_status_when_no_change_is_chosen(
    client, publisher, make_incident, make_component
):
    api = make_component("API", status=Component.Status.DEGRADED_PERFORMANCE)
    incident = make_incident(public=False)
    _login(client, publisher)
    draft = _draft(client, incident, body="Looking into it.")
    client.post(reverse("manage:publish", args=[draft.pk]))
    api.refresh_from_db()
    assert api.status == "degraded_performance"


def test_a_publishers_photo_appears_beside_their_public_update(
    client, publisher, make_incident, settings, tmp_path
):
    import io

    from PIL import Image

    settings.MEDIA_ROOT = tmp_path
    image = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(image, "PNG")
    image.seek(0)
    image.name = "priya.png"
    _login(client, publisher)
    client.post(reverse("manage:profile"), {"display_name": "", "title": "VP Engineering", "photo": image})
    incident = make_incident()

    page = client.get(reverse("status:incident", args=[incident.pk])).content.decode()

    photo_url = publisher.profile.photo.url
    assert f'<img class="timeline__photo" src="{photo_url}"' in page
    assert client.get(photo_url).status_code == 200


def test_a_file_that_is_not_an_image_is_refused_as_a_photo(client, publisher, settings, tmp_path):
    import io

    settings.MEDIA_ROOT = tmp_path
    fake = io.BytesIO(b"#!/bin/sh\necho not an image\n")
    fake.name = "photo.png"
    _login(client, publisher)
    response = client.post(reverse("manage:profile"), {"title": "VP", "photo": fake})
    assert response.status_code == 200
    assert "Upload a valid image" in response.content.decode()


def test_what_is_published_is_what_was_previewed(client, publisher, communicator, make_incident):
    incident = make_incident()
    _login(client, publisher)
    draft = _draft(client, incident, body="Previewed words.")
    previewed = draft.version
    UpdateDraft.objects.filter(pk=draft.pk).update(body="Changed behind the preview.", version=previewed + 1)

    client.post(reverse("manage:publish", args=[draft.pk]), {"version": previewed})

    assert not incident.updates.filter(body="Changed behind the preview.").exists()
    client.post(reverse("manage:publish", args=[draft.pk]), {"version": previewed + 1})
    assert incident.updates.filter(body="Changed behind the preview.").exists()


def test_preview_saves_what_was_just_typed_first(client, publisher, make_incident):
    incident = make_incident()
    _login(client, publisher)
    draft = _draft(client, incident)
    response = client.post(
        reverse("manage:draft", args=[draft.pk]),
        {"base_version": draft.version, "status": "identified", "body": "Typed a moment ago.", "next_update": "30",
         "_preview": "1"},
    )  # fmt: skip
    assert response["Location"] == reverse("manage:preview", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.body == "Typed a moment ago."


def test_bodies_are_stored_and_signed_with_unix_line_endings(client, publisher, make_incident):
    incident = make_incident()
    _login(client, publisher)
    # What a browser's textarea sends: CRLF between lines.
    draft = _draft(
        client, incident, status="identified", body="**Cause:** a bad deploy.\r\n\r\nRefunds follow.\r\n"
    )
    assert draft.body == "**Cause:** a bad deploy.\n\nRefunds follow."

    client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version})

    update = incident.updates.get(status="identified")
    assert "\r" not in update.body
    assert b"\\r" not in bytes(update.statement) and b"\r" not in bytes(update.statement)
    direct = services.update_publish(
        incident=incident, author=publisher, status="monitoring", body="One.\r\nTwo."
    )
    assert direct.body == "One.\nTwo." and b"\\r" not in bytes(direct.statement)


def test_a_closing_drafts_preview_promises_no_next_update(client, publisher, make_incident):
    incident = make_incident()
    _login(client, publisher)
    draft = _draft(client, incident, status="monitoring", body="Fix is out.", next_update="30")
    assert "Next update by" in client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    draft = _draft(client, incident, status="resolved", body="All fixed.", next_update="keep")
    assert draft.next_update_at is not None  # kept in the draft, but a closing update cannot carry it
    assert "Next update by" not in client.get(reverse("manage:preview", args=[draft.pk])).content.decode()


def test_the_tone_guard_flags_heated_words_as_you_type_and_clears_when_calm(
    client, communicator, make_incident
):
    incident = make_incident()
    _login(client, communicator)
    draft = _draft(client, incident)
    typed = {"base_version": draft.version, "status": "investigating", "next_update": "keep"}

    heated = client.post(
        reverse("manage:draft", args=[draft.pk]),
        {**typed, "body": "This is NOT our fault, it was user error!!"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'id="tone-guard"' in heated and 'hx-swap-oob="true"' in heated
    assert "“user error”" in heated and "(blame)" in heated and "“!!”" in heated
    assert "Try: " in heated and "doctrine 7" in heated

    draft.refresh_from_db()
    calm = client.post(
        reverse("manage:draft", args=[draft.pk]),
        {
            **typed,
            "base_version": draft.version,
            "body": "We are sorry: payments are failing. Next update by 14:30 UTC.",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Tone check: nothing to flag." in calm

    page = client.get(reverse("manage:draft", args=[draft.pk])).content.decode()
    assert page.count('id="tone-guard"') == 1 and "nothing to flag" in page
