import pytest

pytestmark = pytest.mark.django_db

MATRIX = {
    # permission: (publisher, communicator, engineer)
    "incidents.publish_update": (True, False, False),
    "incidents.add_incidentupdate": (True, False, False),
    "incidents.edit_incident_details": (True, True, False),
    "incidents.add_incident": (True, True, False),
    "incidents.change_incidentrole": (True, True, False),
    "incidents.add_progressnote": (True, True, True),
    "incidents.change_component_status": (True, True, True),
    "incidents.change_component": (False, False, False),
    "incidents.delete_incident": (False, False, False),
}


@pytest.mark.parametrize("perm", MATRIX)
def test_each_role_has_exactly_its_permissions(perm, publisher, communicator, engineer, admin_user):
    expected = MATRIX[perm]
    assert (publisher.has_perm(perm), communicator.has_perm(perm), engineer.has_perm(perm)) == expected
    assert admin_user.has_perm(perm)
