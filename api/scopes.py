"""What a token may be used for. A scope narrows a token; the owner's permissions still apply on every call."""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User


@dataclass(frozen=True)
class Scope:
    name: str
    label: str
    # The owner needs all of these, checked on every call: a token never does more than its owner can.
    permissions: tuple[str, ...]


INCIDENTS_READ = "incidents:read"
INCIDENTS_WRITE = "incidents:write"
NOTES_WRITE = "notes:write"
COMPONENTS_WRITE = "components:write"
DELIVERIES_READ = "deliveries:read"

SCOPES: dict[str, Scope] = {
    scope.name: scope
    for scope in (
        Scope(INCIDENTS_READ, "List incidents and components", ("incidents.view_incident",)),
        Scope(NOTES_WRITE, "Post progress notes", ("incidents.view_incident", "incidents.add_progressnote")),
        Scope(COMPONENTS_WRITE, "Change component statuses", ("incidents.change_component_status",)),
        Scope(
            INCIDENTS_WRITE,
            "Open draft incidents",
            ("incidents.add_incident", "incidents.add_affectedcomponent"),
        ),
        Scope(DELIVERIES_READ, "See where published updates were delivered", ("channels.view_delivery",)),
    )
}


def missing_permissions(user: User | AnonymousUser, scope: str) -> list[str]:
    return [perm for perm in SCOPES[scope].permissions if not user.has_perm(perm)]


def scopes_allowed(user: User | AnonymousUser) -> list[Scope]:
    """The scopes this person's role can use: the only ones offered when they create a token."""
    return [scope for scope in SCOPES.values() if not missing_permissions(user, scope.name)]
