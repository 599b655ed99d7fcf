"""A real Celery worker process, on the real Redis broker, against the test database."""

import time

import pytest

from incidents import services
from incidents.models import Component, ComponentDay
from statushub.lib.public_cache import public_version

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_status_change_is_turned_into_availability_by_the_worker(worker, make_component, engineer):
    api = make_component("Public API")

    services.component_set_status(component=api, status=Component.Status.MAJOR_OUTAGE, by=engineer)
    version_after_commit = public_version()

    deadline = time.monotonic() + 20
    while not ComponentDay.objects.filter(component=api, worst_status="major_outage").exists():
        assert time.monotonic() < deadline, "the worker did not recompute availability within 20 s"
        time.sleep(0.2)
    # After writing the day, the worker bumps the shared public version so open pages refresh.
    while public_version() == version_after_commit:
        assert time.monotonic() < deadline, "the worker did not bump the public version"
        time.sleep(0.1)
