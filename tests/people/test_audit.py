import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from people import roles
from people.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_publisher_logins_and_failed_logins_are_recorded_without_passwords(client, publisher, engineer):
    client.post(reverse("admin:login"), {"username": "priya", "password": PASSWORD})
    client.post(reverse("admin:login"), {"username": "priya", "password": "guess"})
    client.post(reverse("admin:login"), {"username": "marco", "password": PASSWORD})  # engineers: not audited

    assert AuditEvent.objects.filter(action="login", actor=publisher).count() == 1
    failed = AuditEvent.objects.get(action="login_failed")
    assert failed.target == "priya"
    assert "guess" not in str(failed.data)
    assert not AuditEvent.objects.filter(action="login", actor=engineer).exists()


def test_role_changes_are_recorded(engineer):
    engineer.groups.add(Group.objects.get(name=roles.PUBLISHER))
    event = AuditEvent.objects.filter(action="role_changed", target="marco").latest("at")
    assert event.data == {"change": "add", "groups": ["Publisher"]}


def test_the_audit_log_is_for_admins_and_cannot_be_edited(client, admin_user, communicator, make_incident):
    make_incident()
    url = reverse("admin:people_auditevent_changelist")
    client.force_login(communicator)
    assert client.get(url).status_code == 403

    client.force_login(admin_user)
    page = client.get(url).content.decode()
    assert "Published an update" in page
    event = AuditEvent.objects.filter(action="publish").first()
    assert event is not None
    change = client.post(reverse("admin:people_auditevent_change", args=[event.pk]), {"target": "rewritten"})
    assert change.status_code == 403
    assert (
        client.post(reverse("admin:people_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
