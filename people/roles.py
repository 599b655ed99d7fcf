"""The people roles as Django groups. Checked with ``user.has_perm``, never with ``is_superuser``.

People knows the roles (Publisher ⊇ Communicator ⊇ Engineer) but not what each app lets them do: every app grants
its own permissions from its ``AppConfig.ready()`` (``grant``), so a new app needs no change here. The groups are
synced after every ``migrate``, so a fresh install and an upgraded one end up with the same groups.
"""

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

PUBLISHER = "Publisher"
COMMUNICATOR = "Communicator"
ENGINEER = "Engineer"
ROLES = (PUBLISHER, COMMUNICATOR, ENGINEER)

_granted: dict[str, set[str]] = {role: set() for role in ROLES}
_second_factor: set[str] = set()


def grant(
    app_label: str,
    *,
    engineer: Iterable[str] = (),
    communicator: Iterable[str] = (),
    publisher: Iterable[str] = (),
) -> None:
    """Give each role codenames of ``app_label`` (or "other_app.codename"); each role also has the ones below it."""

    def qualified(codenames: Iterable[str]) -> set[str]:
        return {name if "." in name else f"{app_label}.{name}" for name in codenames}

    _granted[ENGINEER] |= qualified(engineer)
    _granted[COMMUNICATOR] |= qualified(engineer) | qualified(communicator)
    _granted[PUBLISHER] |= qualified(engineer) | qualified(communicator) | qualified(publisher)


def role_permissions() -> dict[str, set[str]]:
    return {role: set(names) for role, names in _granted.items()}


def require_second_factor(permission: str) -> None:
    """Whoever holds ``permission`` must sign in with a second factor (those who speak for the company)."""
    _second_factor.add(permission)


def second_factor_permissions() -> frozenset[str]:
    return frozenset(_second_factor)


def sync_role_groups(**kwargs: Any) -> None:
    for name, codenames in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = Q(pk__in=[])
        for entry in codenames:
            app_label, _, codename = entry.rpartition(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
