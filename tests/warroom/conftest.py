import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from incidents.models import Incident, IncidentRole
from people import roles
from people.access import REAUTH_SESSION_KEY
from tests.conftest import _person, enrol_totp


def speak_login(client, user):
    """Signed in, past the second factor and the password check: as someone about to publish."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = enrol_totp(user).persistent_id
    session[REAUTH_SESSION_KEY] = time.time()
    session.save()


@pytest.fixture
def dana(db):
    """A second publisher, not on the incident's roster."""
    return _person("dana", "Dana", "Whitfield", roles.PUBLISHER, email="dana@example.com")


@pytest.fixture
def lee(db):
    return _person("lee", "Lee", "Chen", roles.COMMUNICATOR, email="lee@example.com")


@pytest.fixture
def war(publisher, communicator, engineer, lee, dana) -> dict[str, Any]:
    """A SEV1 detected 2 minutes ago, not acknowledged: priya commands, sam is the primary communicator."""
    for user, address in [(publisher, "priya@example.com"), (communicator, "sam@example.com")]:
        user.email = address
        user.save()
    detected = timezone.now().replace(microsecond=0) - timedelta(minutes=2)
    incident = Incident.objects.create(
        title="Checkout failing in the US region", severity=Incident.Severity.SEV1, detected_at=detected
    )
    R = IncidentRole.Role
    for user, role in [
        (publisher, R.COMMANDER),
        (communicator, R.PRIMARY_COMMUNICATOR),
        (lee, R.SECONDARY_COMMUNICATOR),
        (engineer, R.TECH_LIAISON),
    ]:
        IncidentRole.objects.create(incident=incident, user=user, role=role)
    return {"incident": incident, "detected": detected}
