"""Personas and small builders shared by the tests.

Personas follow the roles: ``publisher`` (Priya, may publish), ``communicator`` (Sam, drafts and
runs the incident), ``engineer`` (Marco, notes and component status only), ``admin_user``.
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY

from incidents import services
from incidents.models import Component, ComponentGroup, Incident
from people import roles, two_factor
from people.models import TOTPDevice
from people.services import profile_for
from statushub.lib.snapshot_store import snapshot_store
from tests.alerts.test_alerts_helpers import make_source

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
    snapshot_store().clear()


def enrol_totp(user: User) -> TOTPDevice:
    """A confirmed authenticator app for ``user``; ``two_factor.totp_code(device)`` is what it shows now."""
    device = two_factor.confirmed_totp(user)
    if device is None:
        device = two_factor.totp_start(user=user)
        two_factor.totp_confirm(device=device)
    return device


class VerifiedClient(Client):
    """The test client, whose ``force_login`` also passes the second step (as if the person typed their app's
    code), so tests of what people do once signed in need not sign in twice. Tests of the second step itself
    use ``django.test.Client``."""

    def force_login(self, user: Any, backend: str | None = None) -> None:
        super().force_login(user, backend)
        if two_factor.required_for(user):
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = enrol_totp(user).persistent_id
            session.save()


@pytest.fixture
def eager() -> Iterator[None]:
    """Run queued Celery tasks inline, so a test sees what a real worker would do (mail sent, hooks posted)."""
    from statushub.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def fake() -> Iterator[Any]:
    """A local HTTP server answering as the channels' services do (tests/fake_services.py)."""
    from tests.fake_services import fake_services

    with fake_services() as server:
        yield server


@pytest.fixture
def client() -> Client:
    return VerifiedClient()


@pytest.fixture
def admin_client(admin_user: User) -> Client:
    client = VerifiedClient()
    client.force_login(admin_user)
    return client


def _person(username: str, first: str, last: str, group: str | None, **extra: Any) -> User:
    roles.sync_role_groups()
    user = User.objects.create_user(
        username=username, password=PASSWORD, first_name=first, last_name=last, is_staff=True, **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def publisher(db: None) -> User:
    return _person("priya", "Priya", "Raman", roles.PUBLISHER)


@pytest.fixture
def communicator(db: None) -> User:
    return _person("sam", "Sam", "Okafor", roles.COMMUNICATOR)


@pytest.fixture
def engineer(db: None) -> User:
    return _person("marco", "Marco", "Rossi", roles.ENGINEER)


@pytest.fixture
def admin_user(db: None) -> User:
    return _person("ada", "Ada", "Admin", None, is_superuser=True)


@pytest.fixture
def make_component(db: None) -> Callable[..., Component]:
    groups: dict[str, ComponentGroup] = {}

    def make(name: str, group: str | None = "Core", **fields: Any) -> Component:
        group_obj = None
        if group:
            group_obj = groups.get(group) or ComponentGroup.objects.create(name=group, position=len(groups))
            groups[group] = group_obj
        fields.setdefault("created_at", timezone.now() - timedelta(days=120))
        return Component.objects.create(name=name, group=group_obj, **fields)

    return make


@pytest.fixture
def make_incident(db: None, publisher: User) -> Callable[..., Incident]:
    """An incident; ``public=True`` publishes a first update so it is on the page."""

    def make(
        title: str = "Payments failing",
        *,
        public: bool = True,
        body: str = "We are investigating.",
        **fields: Any,
    ) -> Incident:
        fields.setdefault("severity", Incident.Severity.SEV2)
        fields.setdefault("detected_at", timezone.now().replace(microsecond=0) - timedelta(minutes=30))
        fields.setdefault("started_at", fields["detected_at"])
        incident = Incident.objects.create(title=title, **fields)
        if public:
            services.update_publish(
                incident=incident,
                author=publisher,
                status=incident.status,
                body=body,
                author_title="VP Engineering",
            )
            incident.refresh_from_db()
        return incident

    return make


@pytest.fixture
def site(make_component, make_incident, publisher) -> dict[str, Any]:
    """A small public site: a degraded component, an open and a resolved incident, and a draft nobody may see."""
    api = make_component("Payments API")
    services.component_set_status(component=api, status="partial_outage", by=publisher)
    open_incident = make_incident("Card payments failing", body="We are <investigating> & on it.")
    services.update_publish(
        incident=open_incident, author=publisher, status="identified", body="Found it: a bad certificate."
    )
    resolved = make_incident("Slow dashboard", status=Incident.Status.INVESTIGATING)
    services.update_publish(incident=resolved, author=publisher, status="resolved", body="Fixed.")
    draft = make_incident("Not public yet", public=False)
    return {"api": api, "open": open_incident, "resolved": resolved, "draft": draft}


@pytest.fixture
def story(make_component, make_incident, publisher):
    """For the feed tests: two components; an incident on one with three updates, a maintenance on the other, an
    internal draft."""
    api = make_component("API")
    web = make_component("Web app")
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    profile = profile_for(publisher)
    profile.title = "VP Engineering"
    profile.save()
    incident = make_incident("Payments failing", public=False)
    first = services.update_publish(
        incident=incident,
        author=publisher,
        status="investigating",
        body="We are **investigating** failed card payments.",
        component_statuses={api: Component.Status.MAJOR_OUTAGE},
        at=start + timedelta(minutes=1),
    )
    second = services.update_publish(
        incident=incident,
        author=publisher,
        status="identified",
        body="A bad deploy. Rolling back.",
        next_update_at=start + timedelta(minutes=40),
        at=start + timedelta(minutes=2),
    )
    maintenance = make_incident(
        "Database upgrade",
        public=False,
        kind=Incident.Kind.MAINTENANCE,
        status=Incident.Status.SCHEDULED,
        scheduled_for=start + timedelta(hours=2),
    )
    planned = services.update_publish(
        incident=maintenance,
        author=publisher,
        status="in_progress",
        body="Upgrading now.",
        component_statuses={web: Component.Status.UNDER_MAINTENANCE},
        at=start + timedelta(minutes=3),
    )
    third = services.update_publish(
        incident=incident,
        author=publisher,
        status="resolved",
        body="Payments work again.",
        component_statuses={api: Component.Status.OPERATIONAL},
        at=start + timedelta(minutes=4),
    )
    internal = make_incident("Internal only", public=False)
    return {
        "api": api,
        "web": web,
        "incident": incident,
        "maintenance": maintenance,
        "internal": internal,
        "updates": {"first": first, "second": second, "planned": planned, "third": third},
    }


# The alert webhook tests' sources (with their token or signing secret) and the component their alerts name.
@pytest.fixture
def alertmanager(db):
    return make_source("alertmanager")


@pytest.fixture
def grafana(db):
    return make_source("grafana")


@pytest.fixture
def generic(db):
    return make_source("generic")


@pytest.fixture
def payments(make_component):
    return make_component("Payments", group="Billing")


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(
    command: list[str], *, url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    """A server process (app server, nginx) that answers ``url`` before the test goes on; stopped afterwards."""
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"{command[0]} did not start:\n{log.read_text()}")
            time.sleep(0.1)
    try:
        yield
    finally:
        server.terminate()
        server.wait(timeout=15)


_static_collected: list[bool] = []


def collect_static_for_subprocesses() -> None:
    """Workers and app servers run the real settings, whose pages name static files through collectstatic's
    manifest: collect once per test session."""
    if not _static_collected:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "statushub.settings"}
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            env=env, check=True, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        _static_collected.append(True)


@contextmanager
def _celery_worker(
    tmp_path: Path, *pool: str, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("needs DATABASE_URL (PostgreSQL) and REDIS_URL, as scripts/test.sh sets them")
    collect_static_for_subprocesses()
    env = {
        **os.environ,
        **(extra_env or {}),
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CACHE_KEY_PREFIX": str(settings.CACHES["default"]["KEY_PREFIX"]),
        "STATUSHUB_SNAPSHOT_PREFIX": settings.STATUSHUB_SNAPSHOT_PREFIX,
        "STATUSHUB_SNAPSHOT_DIR": str(settings.STATUSHUB_SNAPSHOT_DIR),
        # Retries in tenths of a second, so a test can watch a delivery fail twice and succeed.
        "STATUSHUB_DELIVERY_BACKOFF_SECONDS": "0.2",
        "STATUSHUB_TRANSPORT_OVERRIDES": "1",  # channels point at local fake servers
        "STATUSHUB_OUTBOUND_ALLOW_NETWORKS": ",".join(settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "statushub", "worker", *pool, "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with _celery_worker(tmp_path, "--pool=solo") as process:
        yield process


@pytest.fixture
def threaded_worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The worker as the demo and production run it: a thread pool, so deliveries go out side by side."""
    with _celery_worker(tmp_path, "--pool=threads", "--concurrency=8") as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium through Playwright, one per test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls in these tests are
    # plain test setup, not async code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )  # fmt: skip
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
