import pytest
from django.core.management import call_command

from incidents.models import Component, Incident

pytestmark = pytest.mark.django_db


def test_seed_demo_tells_one_crisis_and_can_be_run_again(client):
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115  (a reset, not a duplicate)

    active = Incident.objects.get(title="Some customers charged twice on renewal")
    assert (active.severity, active.impact, active.status) == ("sev2", "major", "identified")
    assert active.notes.filter(is_public=True).count() == 1
    assert active.notes.filter(is_public=False).count() >= 4
    assert {r.role for r in active.roles.all()} >= {"commander", "primary_communicator", "tech_liaison"}
    assert Component.objects.get(name="Payments").status == "partial_outage"
    ceo = active.updates.order_by("-published_at").first()
    assert ceo is not None and ceo.author_name == "Dana Whitfield"
    # The promise in the words is the promise in the data (JSON, feeds and the page's "Next update by").
    assert ceo.next_update_at is not None and f"Next update by {ceo.next_update_at:%H:%M} UTC." in ceo.body

    sev1 = Incident.objects.get(title="Dashboard and API unavailable")
    assert sev1.status == "postmortem"
    assert 4 <= sev1.updates.count() <= 6
    assert len({u.author_id for u in sev1.updates.all()}) == 2
    assert set(sev1.updates.values_list("status", flat=True)) >= {
        "investigating",
        "identified",
        "monitoring",
        "resolved",
    }

    maintenance = Incident.objects.get(kind="maintenance")
    assert maintenance.status == "scheduled"
    assert maintenance.scheduled_for and maintenance.scheduled_until
    assert maintenance.scheduled_for.weekday() == 5
    assert (maintenance.scheduled_for.hour, maintenance.scheduled_until.hour) == (2, 3)

    assert Incident.objects.filter(title="Dashboard and API unavailable").count() == 1
    bars = {day.worst_status for c in Component.objects.all() for day in c.days.all()}
    assert {"major_outage", "degraded_performance", "operational"} <= bars

    from incidents.models import IncidentUpdate
    from statushub.lib import signing as lib

    chain = list(IncidentUpdate.objects.order_by("seq"))
    assert [u.seq for u in chain] == list(range(1, len(chain) + 1))
    for previous, update in zip([None, *chain], chain, strict=False):
        assert update.prev_sha256 == (previous.statement_sha256 if previous else "")
        assert update.signing_key is not None
        assert lib.verify(
            bytes(update.signing_key.public_key),
            lib.b64decode_signature(update.signature),
            bytes(update.statement),
        )
        assert lib.key_valid_at(
            update.signing_key.created_at, update.signing_key.revoked_at, update.published_at
        )

    from channels.models import Channel, Delivery

    assert Channel.objects.filter(dry_run=True).count() >= 1
    assert not Delivery.objects.exists()  # the seeded history does not fan out

    page = client.get("/").content.decode()
    assert "Partial System Outage" in page
    assert "Database upgrade for the EU region" in page
    assert "Dana Whitfield, CEO" in page
