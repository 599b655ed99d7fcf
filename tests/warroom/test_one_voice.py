"""One voice: publishers post; the incident's primary communicator may post its first acknowledgement (in their own
name, signed with their own key); everyone else drafts and suggests, and the primary communicator decides."""

import time

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from incidents import services
from incidents.admin import RoleInline
from incidents.models import Incident, IncidentRole, IncidentUpdate, UpdateDraft
from people.access import REAUTH_SESSION_KEY
from statushub.lib import signing as lib
from tests.warroom.conftest import speak_login
from warroom import services as warroom
from warroom.models import Suggestion

pytestmark = pytest.mark.django_db


def _login(client, user):
    speak_login(client, user)


def _draft(
    incident, user, body="We are aware checkout is failing in the US region. Next update by 10:30 UTC."
):
    return UpdateDraft.objects.create(
        incident=incident, status="investigating", body=body, created_by=user, last_edited_by=user
    )


def test_the_primary_communicator_publishes_the_first_acknowledgement_signed_in_their_name(
    client, war, communicator
):
    incident = war["incident"]
    draft = _draft(incident, communicator)
    _login(client, communicator)

    response = client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version})

    assert response.status_code == 302, response.content
    update = IncidentUpdate.objects.get()
    assert update.author == communicator and update.author_name == "Sam Okafor"
    assert update.signing_key is not None and update.signing_key.owner == communicator
    assert lib.verify(
        bytes(update.signing_key.public_key),
        lib.b64decode_signature(update.signature),
        bytes(update.statement),
    )
    incident.refresh_from_db()
    assert incident.acknowledged_at == update.published_at


def test_after_the_first_acknowledgement_only_publishers_post(client, war, communicator, publisher):
    incident = war["incident"]
    services.update_publish(incident=incident, author=publisher, status="investigating", body="We know.")
    draft = _draft(incident, communicator, "Still on it.")
    _login(client, communicator)

    response = client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version})

    assert response.status_code == 403
    assert IncidentUpdate.objects.count() == 1


def test_a_secondary_communicator_cannot_publish_even_the_first(client, war, lee):
    draft = _draft(war["incident"], lee)
    _login(client, lee)

    assert (
        client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version}).status_code == 403
    )
    assert not IncidentUpdate.objects.exists()


def test_the_setting_turns_the_first_acknowledgement_by_the_communicator_off(
    client, war, communicator, settings
):
    settings.STATUSHUB_PRIMARY_MAY_ACKNOWLEDGE = False
    draft = _draft(war["incident"], communicator)
    _login(client, communicator)

    assert (
        client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version}).status_code == 403
    )
    with pytest.raises(PermissionDenied):
        services.update_publish(
            incident=war["incident"], author=communicator, status="investigating", body="x"
        )


def test_the_primary_communicator_of_another_incident_cannot_acknowledge_this_one(
    war, communicator, make_incident
):
    other = make_incident("Something else", public=False)

    assert not services.may_publish(communicator, other)
    assert services.may_publish(communicator, war["incident"])


def test_a_correction_of_the_first_acknowledgement_needs_a_publisher(war, communicator):
    first = services.update_publish(
        incident=war["incident"], author=communicator, status="investigating", body="We know."
    )

    with pytest.raises(PermissionDenied):
        services.update_publish(
            incident=war["incident"],
            author=communicator,
            status="investigating",
            body="Fixed.",
            corrects=first,
        )


def test_the_preview_tells_the_primary_communicator_they_may_publish_the_first(client, war, communicator):
    draft = _draft(war["incident"], communicator)
    _login(client, communicator)

    page = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()

    assert "you may publish its first acknowledgement, signed in your own name" in page
    assert "Sign and publish as Sam Okafor" in page


def test_anyone_on_the_team_suggests_and_the_primary_communicator_accepts_into_the_draft(
    client, war, engineer, communicator
):
    incident = war["incident"]
    client.force_login(engineer)
    client.post(reverse("manage:suggest", args=[incident.pk]), {"body": "Card payments fail; PayPal works."})
    suggestion = Suggestion.objects.get()
    assert suggestion.author == engineer and suggestion.state == "open"

    # The engineer cannot decide on it; the primary communicator can.
    assert (
        client.post(reverse("manage:suggestion", args=[suggestion.pk]), {"decision": "accept"}).status_code
        == 403
    )
    _login(client, communicator)
    response = client.post(reverse("manage:suggestion", args=[suggestion.pk]), {"decision": "accept"})

    draft = UpdateDraft.objects.get(incident=incident, published_update__isnull=True)
    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    assert draft.body == "Card payments fail; PayPal works." and draft.last_edited_by == communicator
    suggestion.refresh_from_db()
    assert (suggestion.state, suggestion.decided_by) == ("accepted", communicator)


def test_a_declined_suggestion_stays_on_record_and_cannot_be_decided_twice(war, lee, communicator, publisher):
    suggestion = warroom.suggestion_create(incident=war["incident"], author=lee, body="Blame the processor.")

    assert warroom.suggestion_decide(suggestion=suggestion, by=publisher, accept=False) is None
    with pytest.raises(Exception, match="already declined"):
        warroom.suggestion_decide(suggestion=suggestion, by=communicator, accept=True)
    assert not UpdateDraft.objects.exists()


def test_the_commander_hands_a_role_over_and_the_handover_is_kept(client, war, publisher, lee, communicator):
    incident = war["incident"]
    client.force_login(publisher)  # priya commands this incident

    client.post(
        reverse("manage:roster", args=[incident.pk]),
        {"action": "assign", "role": "primary_communicator", "user": lee.pk},
    )

    held = IncidentRole.objects.get(incident=incident, role="primary_communicator")
    assert held.user == lee
    history = IncidentRole.history.filter(incident_id=incident.pk, role="primary_communicator").order_by(
        "history_id"
    )
    assert [(h.history_type, h.user_id) for h in history] == [
        ("+", communicator.pk),
        ("-", communicator.pk),
        ("+", lee.pk),
    ]
    assert incident.timeline.filter(
        text__startswith="Sam Okafor handed primary communicator over to Lee Chen"
    ).exists()
    assert services.may_publish(lee, incident) and not services.may_publish(communicator, incident)


def test_engineers_do_not_change_the_roster(client, war, engineer):
    client.force_login(engineer)  # the tech liaison: not the commander, and cannot edit incidents

    response = client.post(
        reverse("manage:roster", args=[war["incident"].pk]),
        {"action": "assign", "role": "commander", "user": engineer.pk},
    )

    assert response.status_code == 403
    assert IncidentRole.objects.get(incident=war["incident"], role="commander").user.username == "priya"


def test_someone_who_cannot_write_updates_cannot_be_the_primary_communicator(war, publisher, engineer):
    with pytest.raises(Exception, match="cannot write updates"):
        warroom.role_assign(
            incident=war["incident"], user=engineer, role="primary_communicator", by=publisher
        )


def test_publishing_in_ones_own_name_needs_the_second_factor(client, war, communicator):
    draft = _draft(war["incident"], communicator)
    client.force_login(communicator)  # a password only: communicators are not asked for a code at sign-in
    session = client.session
    session[REAUTH_SESSION_KEY] = time.time()
    session.save()

    preview = client.get(reverse("manage:preview", args=[draft.pk])).content.decode()
    response = client.post(reverse("manage:publish", args=[draft.pk]), {"version": draft.version})

    assert "Confirm your second factor" in preview
    assert response["Location"].startswith(reverse("account:two-factor") + "?next=")
    assert not IncidentUpdate.objects.exists()


@pytest.mark.parametrize("status", ["resolved", "postmortem"])
def test_the_first_acknowledgement_by_the_communicator_cannot_close_the_incident(war, communicator, status):
    with pytest.raises(PermissionDenied):
        services.update_publish(
            incident=war["incident"], author=communicator, status=status, body="All good."
        )
    assert services.may_publish(communicator, war["incident"], status="identified")


def test_the_communicator_cannot_acknowledge_a_maintenance(war, communicator, make_incident):
    maintenance = make_incident("DB upgrade", public=False, kind="maintenance", status="scheduled")
    IncidentRole.objects.create(incident=maintenance, user=communicator, role="primary_communicator")

    assert not services.may_publish(communicator, maintenance)


def test_nobody_names_themselves_the_primary_communicator(client, war, lee, publisher):
    incident = war["incident"]
    client.force_login(lee)  # a communicator: may edit incidents, but is not the commander

    console = client.post(
        reverse("manage:roster", args=[incident.pk]),
        {"action": "assign", "role": "primary_communicator", "user": lee.pk},
    )
    in_the_admin = _roles_formset(incident, by=lee, primary=lee)

    assert console.status_code == 403
    assert not in_the_admin.is_valid()
    assert in_the_admin.non_form_errors() == [
        "Only the incident's commander or a publisher names the primary communicator."
    ]
    assert _roles_formset(incident, by=publisher, primary=lee).is_valid()  # priya commands this incident
    assert IncidentRole.objects.get(incident=incident, role="primary_communicator").user.username == "sam"
    warroom.role_assign(
        incident=incident, user=lee, role="primary_communicator", by=publisher
    )  # the commander may
    assert IncidentRole.objects.get(incident=incident, role="primary_communicator").user == lee


def _roles_formset(incident, *, by, primary):
    """The admin's roles inline, as posted by ``by`` with the primary communicator changed to ``primary``."""
    request = RequestFactory().post("/")
    request.user = by
    formset_class = RoleInline(Incident, admin.site).get_formset(request, incident)
    held = list(IncidentRole.objects.filter(incident=incident).order_by("pk"))
    data: dict[str, object] = {"roles-TOTAL_FORMS": len(held), "roles-INITIAL_FORMS": len(held), "roles-MIN_NUM_FORMS": 0,
            "roles-MAX_NUM_FORMS": 1000}  # fmt: skip
    for n, row in enumerate(held):
        user = primary if row.role == "primary_communicator" else row.user
        data.update({f"roles-{n}-id": row.pk, f"roles-{n}-incident": incident.pk, f"roles-{n}-user": user.pk,
                     f"roles-{n}-role": row.role})  # fmt: skip
    return formset_class(data, instance=incident, prefix="roles")
