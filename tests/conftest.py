"""Personas and small builders shared by the tests.

Personas follow the roles: ``publisher`` (Priya, may publish), ``communicator`` (Sam, drafts and
runs the incident), ``engineer`` (Marco, notes and component status only), ``admin_user``.
"""

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.utils import timezone

from incidents import roles, services
from incidents.models import Component, ComponentGroup, Incident

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


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
