from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import services
from incidents.models import Component, ComponentStatusChange, Incident, IncidentRole

S = Component.Status
pytestmark = pytest.mark.django_db


def test_setting_a_component_status_records_the_change_with_who_and_why(
    make_component, make_incident, engineer
):
    payments = make_component("Payments")
    incident = make_incident()

    changed = services.component_set_status(
        component=payments, status=S.PARTIAL_OUTAGE, by=engineer, incident=incident
    )

    payments.refresh_from_db()
    assert changed is True
    assert payments.status == S.PARTIAL_OUTAGE
    change = ComponentStatusChange.objects.get(component=payments)
    assert (change.previous_status, change.status) == (S.OPERATIONAL, S.PARTIAL_OUTAGE)
    assert change.changed_by == engineer
    assert change.incident == incident


def test_setting_the_same_status_again_records_nothing(make_component):
    api = make_component("API")
    assert services.component_set_status(component=api, status=S.OPERATIONAL) is False
    assert not ComponentStatusChange.objects.exists()


def test_impact_defaults_from_severity_but_can_be_set(db):
    sev1 = Incident.objects.create(title="Everything down", severity=Incident.Severity.SEV1)
    sev4 = Incident.objects.create(title="Typo", severity=Incident.Severity.SEV4)
    overridden = Incident.objects.create(title="Loud", severity=Incident.Severity.SEV4, impact="major")
    maintenance = Incident.objects.create(title="Upgrade", kind="maintenance", status="scheduled")
    assert (sev1.impact, sev4.impact, overridden.impact, maintenance.impact) == (
        "critical",
        "none",
        "major",
        "maintenance",
    )


def test_publishing_the_first_update_acknowledges_and_moves_status_and_components(make_component, publisher):
    payments = make_component("Payments")
    incident = Incident.objects.create(title="Double charges", severity="sev2", detected_at=timezone.now())
    assert not incident.is_public

    update = services.update_publish(
        incident=incident,
        author=publisher,
        status=Incident.Status.IDENTIFIED,
        body="We found it. **Refunds** are automatic.",
        author_title="VP Engineering",
        component_statuses={payments: S.PARTIAL_OUTAGE},
    )

    incident.refresh_from_db()
    payments.refresh_from_db()
    assert incident.acknowledged_at == update.published_at
    assert incident.status == Incident.Status.IDENTIFIED
    assert payments.status == S.PARTIAL_OUTAGE
    assert incident.affected.get().status == S.PARTIAL_OUTAGE
    assert update.author_line == "Priya Raman, VP Engineering"
    assert "<strong>Refunds</strong>" in update.body_html
    assert update.affected_components == [
        {
            "code": str(payments.pk),
            "name": "Payments",
            "old_status": "operational",
            "new_status": "partial_outage",
        }
    ]


def test_a_later_update_keeps_the_first_acknowledgement_time(make_incident, publisher):
    incident = make_incident()
    first_ack = incident.acknowledged_at
    services.update_publish(
        incident=incident, author=publisher, status="monitoring", body="Fix deployed.",
        at=timezone.now() + timedelta(minutes=20),
    )  # fmt: skip
    incident.refresh_from_db()
    assert incident.acknowledged_at == first_ack
    assert incident.monitoring_at is not None


def test_resolving_restores_components_not_held_by_another_open_incident(
    make_component, make_incident, engineer
):
    shared, own = make_component("API"), make_component("Dashboard")
    first, second = make_incident("First"), make_incident("Second")
    services.incident_set_component_status(incident=first, component=shared, status=S.MAJOR_OUTAGE)
    services.incident_set_component_status(incident=first, component=own, status=S.DEGRADED_PERFORMANCE)
    services.incident_set_component_status(incident=second, component=shared, status=S.MAJOR_OUTAGE)

    services.incident_set_status(incident=first, status=Incident.Status.RESOLVED, by=engineer)

    first.refresh_from_db()
    shared.refresh_from_db()
    own.refresh_from_db()
    assert first.resolved_at is not None
    assert own.status == S.OPERATIONAL
    assert shared.status == S.MAJOR_OUTAGE  # still down for the second incident


def test_reopening_a_resolved_incident_clears_resolved_at(make_incident):
    incident = make_incident()
    services.incident_set_status(incident=incident, status="resolved")
    services.incident_set_status(incident=incident, status="investigating")
    incident.refresh_from_db()
    assert incident.resolved_at is None


def test_a_maintenance_status_is_refused_for_an_incident(make_incident):
    incident = make_incident()
    with pytest.raises(ValueError, match="not a status for a incident"):
        services.incident_set_status(incident=incident, status="in_progress")


def test_the_database_refuses_a_status_of_the_wrong_kind(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(title="Wrong", kind="incident", status="scheduled")


def test_an_incident_has_one_commander_but_many_listeners(make_incident, communicator, engineer, publisher):
    incident = make_incident()
    incident.roles.create(user=communicator, role=IncidentRole.Role.COMMANDER)
    incident.roles.create(user=communicator, role=IncidentRole.Role.SECONDARY_COMMUNICATOR)
    incident.roles.create(user=engineer, role=IncidentRole.Role.SECONDARY_COMMUNICATOR)
    with pytest.raises(IntegrityError), transaction.atomic():
        incident.roles.create(user=publisher, role=IncidentRole.Role.COMMANDER)


def test_notes_are_internal_unless_marked_public_and_render_markdown_safely(make_incident, engineer):
    incident = make_incident()
    note = services.note_add(incident=incident, author=engineer, text="Rolled back `v2.3` <script>x</script>")
    assert note.is_public is False
    assert "<code>v2.3</code>" in note.text_html
    assert "<script>" not in note.text_html


def test_every_change_to_an_incident_is_kept_in_its_history(make_incident, engineer):
    incident = make_incident()
    services.incident_set_status(incident=incident, status="identified", by=engineer)
    services.note_add(incident=incident, author=engineer, text="Found it")
    statuses = list(incident.history.order_by("history_date").values_list("status", flat=True))
    assert statuses[-1] == "identified"
    assert "investigating" in statuses
    assert incident.notes.get().history.count() == 1
