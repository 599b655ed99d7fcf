"""Staff pages that showed too much or broke for some roles."""

import pytest
from django.urls import reverse

from tests.alerts.test_alerts_helpers import make_source

pytestmark = pytest.mark.django_db


def test_a_communicator_opens_an_alert_source_read_only(client, communicator):
    source, _ = make_source("alertmanager")
    client.force_login(communicator)
    page = client.get(reverse("admin:alerts_alertsource_change", args=[source.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert source.name in content and 'name="name"' not in content  # view only
    assert client.get(reverse("admin:alerts_alertsource_changelist")).status_code == 200


def test_a_publisher_still_edits_an_alert_source_but_not_its_kind(client, publisher):
    source, _ = make_source("alertmanager")
    client.force_login(publisher)
    page = client.get(reverse("admin:alerts_alertsource_change", args=[source.pk]))
    assert page.status_code == 200
    assert page.context["adminform"].form.fields["kind"].disabled


@pytest.mark.parametrize(
    ("persona", "status"), [("engineer", 403), ("communicator", 200), ("publisher", 200)]
)
def test_only_people_who_speak_to_subscribers_read_the_demo_outbox(request, client, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("subscribers:outbox")).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in_for_the_outbox(client):
    response = client.get(reverse("subscribers:outbox"))
    assert response.status_code == 302
