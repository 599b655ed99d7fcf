"""The engineers' admin, through the real admin views, for each role."""

import pytest
from django.urls import reverse

from incidents.models import Component, ComponentStatusChange, Incident, ProgressNote, UpdateDraft
from tests.admin_forms import change_form_data, inline, inline_prefix

pytestmark = pytest.mark.django_db


def _change_url(incident):
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def test_anonymous_visitors_are_sent_to_the_login_page(client, make_incident):
    response = client.get(_change_url(make_incident()))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_an_engineer_adds_a_note_inline_and_cannot_touch_incident_details(client, engineer, make_incident):
    incident = make_incident("API down")
    client.force_login(engineer)
    page = client.get(_change_url(incident))
    assert page.status_code == 200
    assert "title" not in page.context["adminform"].form.fields  # details are read-only for engineers

    data = change_form_data(page)
    prefix = inline_prefix(page, "progressnote")
    data[f"{prefix}-0-text"] = "Rolled back the deploy; error rate falling"
    data[f"{prefix}-0-is_public"] = "on"
    data["_continue"] = "Save and continue editing"
    response = client.post(_change_url(incident), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    note = ProgressNote.objects.get(incident=incident)
    assert (note.author, note.is_public) == (engineer, True)
    incident.refresh_from_db()
    assert incident.title == "API down"


def test_status_actions_are_for_communicators_not_engineers(
    client, engineer, communicator, make_incident, make_component
):
    incident = make_incident(public=False)
    api = make_component("API")
    incident.affected.create(component=api, status="major_outage")
    Component.objects.filter(pk=api.pk).update(status="major_outage")
    changelist = reverse("admin:incidents_incident_changelist")
    action = {"action": "mark_resolved", "_selected_action": [incident.pk]}

    client.force_login(engineer)
    assert "mark_resolved" not in client.get(changelist).content.decode()
    client.post(changelist, action)
    incident.refresh_from_db()
    assert incident.status == "investigating"

    # Not public yet: nobody outside has heard of it, so the status is the team's own business.
    client.force_login(communicator)
    client.post(changelist, action)
    incident.refresh_from_db()
    api.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    assert api.status == "operational"


def test_resolving_a_public_incident_from_the_admin_opens_the_compose_screen_with_the_status_set(
    client, communicator, make_incident, make_component
):
    incident = make_incident()
    api = make_component("API")
    incident.affected.create(component=api, status="major_outage")
    Component.objects.filter(pk=api.pk).update(status="major_outage")
    changelist = reverse("admin:incidents_incident_changelist")
    client.force_login(communicator)

    response = client.post(changelist, {"action": "mark_resolved", "_selected_action": [incident.pk]})

    draft = UpdateDraft.objects.get(incident=incident, published_update__isnull=True)
    assert response.status_code == 302
    assert response["Location"] == reverse("manage:draft", args=[draft.pk])
    assert (draft.status, draft.next_update_at) == ("resolved", None)
    # Nothing changed in public until that update is published: no silent resolution.
    incident.refresh_from_db()
    api.refresh_from_db()
    assert (incident.status, incident.resolved_at, api.status) == ("investigating", None, "major_outage")
    editor = client.get(response["Location"])
    assert editor.context["form"]["status"].value() == "resolved"
    assert editor.context["form"]["next_update"].value() == "none"


def test_a_public_incidents_status_is_read_only_in_the_admin_form(client, communicator, make_incident):
    incident = make_incident()
    client.force_login(communicator)
    page = client.get(_change_url(incident))
    assert "status" not in page.context["adminform"].form.fields
    data = change_form_data(page)
    data["status"] = "resolved"
    client.post(_change_url(incident), data)
    incident.refresh_from_db()
    assert incident.status == "investigating"


def test_a_communicator_changes_status_in_the_form_and_the_timestamps_follow(
    client, communicator, make_incident
):
    incident = make_incident(public=False)
    client.force_login(communicator)
    page = client.get(_change_url(incident))
    data = change_form_data(page)
    data["status"] = "monitoring"
    response = client.post(_change_url(incident), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    incident.refresh_from_db()
    assert incident.status == "monitoring"
    assert incident.monitoring_at is not None


def test_the_admin_never_publishes_updates_not_even_for_publishers(client, publisher, make_incident):
    incident = make_incident()
    client.force_login(publisher)
    page = client.get(_change_url(incident))
    updates = inline(page, "incidentupdate")
    assert updates.has_add_permission is False
    assert "We are investigating." in page.content.decode()  # shown, read-only


def test_history_cannot_be_reverted_to_unpublish_an_incident(client, engineer, communicator, make_incident):
    incident = make_incident()
    first = incident.history.earliest("history_date")
    for user in (engineer, communicator):
        client.force_login(user)
        url = reverse("admin:incidents_incident_simple_history", args=[incident.pk, first.history_id])
        client.post(url, {})
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None


def test_an_engineer_moves_a_component_status_and_it_is_recorded(client, engineer, make_component):
    api = make_component("API")
    url = reverse("admin:incidents_component_change", args=[api.pk])
    client.force_login(engineer)
    page = client.get(url)
    assert set(page.context["adminform"].form.fields) == {"status"}

    data = change_form_data(page)
    data["status"] = "degraded_performance"
    response = client.post(url, data)

    assert response.status_code == 302
    change = ComponentStatusChange.objects.get(component=api)
    assert (change.status, change.changed_by) == ("degraded_performance", engineer)


def test_engineers_cannot_open_incidents_or_delete_them(client, engineer, make_incident):
    client.force_login(engineer)
    assert client.get(reverse("admin:incidents_incident_add")).status_code == 403
    incident = make_incident()
    assert client.get(reverse("admin:incidents_incident_delete", args=[incident.pk])).status_code == 403


def test_the_change_page_shows_the_timeline_and_time_to_acknowledge(
    client, communicator, make_incident, engineer
):
    from incidents import services

    incident = make_incident("Double charges")
    services.note_add(incident=incident, author=engineer, text="Internal only: canary at 5%")
    client.force_login(communicator)
    page = client.get(_change_url(incident)).content.decode()
    assert "Internal only: canary at 5%" in page
    assert "We are investigating." in page
    assert "30 min" in page  # detected 30 minutes before the first public update


def test_the_incident_list_filters_open_incidents_and_searches_notes(
    client, communicator, make_incident, engineer
):
    from incidents import services

    open_one, closed = make_incident("Still broken"), make_incident("Long fixed")
    services.incident_set_status(incident=closed, status=Incident.Status.RESOLVED)
    services.note_add(incident=closed, author=engineer, text="needle in the notes")
    client.force_login(communicator)
    changelist = reverse("admin:incidents_incident_changelist")

    active = client.get(changelist, {"active": "yes"}).content.decode()
    assert "Still broken" in active and "Long fixed" not in active
    found = client.get(changelist, {"q": "needle"}).content.decode()
    assert "Long fixed" in found and "Still broken" not in found
    assert open_one.pk


def test_a_status_change_on_the_component_page_is_linked_to_the_open_incident(
    client, engineer, make_component, make_incident
):
    from incidents import services

    payments = make_component("Payments")
    incident = make_incident("Double charges")
    services.incident_set_component_status(incident=incident, component=payments, status="partial_outage")
    url = reverse("admin:incidents_component_change", args=[payments.pk])
    client.force_login(engineer)
    data = change_form_data(client.get(url))
    data["status"] = "major_outage"

    client.post(url, data)

    latest = ComponentStatusChange.objects.filter(component=payments).latest("changed_at")
    assert (latest.status, latest.incident) == ("major_outage", incident)
    assert incident.affected.get().status == "major_outage"
    page = client.get(_change_url(incident)).content.decode()
    assert "Payments: Partial outage → Major outage" in page


def test_only_a_notes_author_can_edit_it_later(client, engineer, communicator, make_incident):
    from incidents import services

    incident = make_incident()
    note = services.note_add(incident=incident, author=engineer, text="Internal: rollback planned")
    client.force_login(communicator)
    page = client.get(_change_url(incident))
    data = change_form_data(page)
    prefix = inline_prefix(page, "progressnote")
    index = next(
        i for i, f in enumerate(inline(page, "progressnote").formset.forms) if f.instance.pk == note.pk
    )
    data[f"{prefix}-{index}-text"] = "Rewritten by someone else"
    data[f"{prefix}-{index}-is_public"] = "on"

    client.post(_change_url(incident), data)

    note.refresh_from_db()
    assert (note.text, note.is_public) == ("Internal: rollback planned", False)

    client.force_login(engineer)
    page = client.get(_change_url(incident))
    data = change_form_data(page)
    data[f"{prefix}-{index}-is_public"] = "on"
    client.post(_change_url(incident), data)
    note.refresh_from_db()
    assert note.is_public is True


def test_an_engineer_finds_api_tokens_from_the_admin(client, engineer):
    from django.urls import reverse

    client.force_login(engineer)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("tokens:list")}"' in page and "Compose" not in page
