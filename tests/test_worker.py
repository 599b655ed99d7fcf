"""A real Celery worker process, on the real Redis broker, against the test database."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from incidents import services
from incidents.models import Component, ComponentDay
from statushub.lib.public_cache import public_version

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL, as scripts/test.sh sets them")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CACHE_KEY_PREFIX": str(settings.CACHES["default"]["KEY_PREFIX"]),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "statushub", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


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
