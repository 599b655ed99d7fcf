"""What a token may be used for. A scope narrows a token; the owner's permissions still apply on every call."""

from people.tokens import SCOPES, Scope, missing_permissions, scopes_allowed

__all__ = ["SCOPES", "Scope", "missing_permissions", "scopes_allowed"]

INCIDENTS_READ = "incidents:read"
INCIDENTS_WRITE = "incidents:write"
NOTES_WRITE = "notes:write"
COMPONENTS_WRITE = "components:write"
DELIVERIES_READ = "deliveries:read"
MENTIONS_READ = "mentions:read"
MENTIONS_WRITE = "mentions:write"
SOURCES_WRITE = "sources:write"

API_SCOPES = (
    Scope(INCIDENTS_READ, "List incidents and components", ("incidents.view_incident",)),
    Scope(NOTES_WRITE, "Post progress notes", ("incidents.view_incident", "incidents.add_progressnote")),
    Scope(COMPONENTS_WRITE, "Change component statuses", ("incidents.change_component_status",)),
    Scope(
        INCIDENTS_WRITE,
        "Open draft incidents",
        ("incidents.add_incident", "incidents.add_affectedcomponent"),
    ),
    Scope(DELIVERIES_READ, "See where published updates were delivered", ("channels.view_delivery",)),
    Scope(MENTIONS_READ, "Read mentions and where we listen", ("mentions.view_mention",)),
    Scope(MENTIONS_WRITE, "Enter mentions", ("mentions.add_mention",)),
    Scope(SOURCES_WRITE, "Add and poll mention sources", ("mentions.add_mentionsource",)),
)
