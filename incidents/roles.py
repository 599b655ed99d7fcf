"""The people roles as Django groups. Checked with ``user.has_perm``, never with ``is_superuser``.

Synced after every ``migrate`` so a fresh install and an upgraded one end up with the same groups.
"""

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

PUBLISHER = "Publisher"
COMMUNICATOR = "Communicator"
ENGINEER = "Engineer"

_ENGINEER = {
    "view_incident", "change_incident",  # change: to add notes inline; details stay read-only
    "view_progressnote", "add_progressnote", "change_progressnote",
    "view_component", "view_componentgroup", "change_component_status",
    "view_affectedcomponent", "add_affectedcomponent", "change_affectedcomponent",
    "view_incidentupdate", "view_incidentrole", "view_componentstatuschange",
}  # fmt: skip
_COMMUNICATOR = _ENGINEER | {
    "add_incident", "edit_incident_details", "add_updatedraft", "change_updatedraft", "view_updatedraft",
    "add_incidentrole", "change_incidentrole", "delete_incidentrole", "delete_affectedcomponent",
}  # fmt: skip
_PUBLISHER = _COMMUNICATOR | {"add_incidentupdate", "publish_update"}
# Other apps' permissions, as "app_label.codename". Communicators see where updates go; publishers, who speak
# for the company, connect and change the brand's channels.
_COMMUNICATOR_OTHER = {
    "channels.view_channel", "channels.view_delivery",
    "alerts.view_alertsource", "alerts.view_alert", "alerts.view_alertreceipt",
}  # fmt: skip
_PUBLISHER_OTHER = _COMMUNICATOR_OTHER | {
    "channels.add_channel", "channels.change_channel", "alerts.add_alertsource", "alerts.change_alertsource",
}  # fmt: skip

ROLE_PERMISSIONS: dict[str, set[str]] = {
    PUBLISHER: _PUBLISHER | _PUBLISHER_OTHER,
    COMMUNICATOR: _COMMUNICATOR | _COMMUNICATOR_OTHER,
    ENGINEER: _ENGINEER,
}


def sync_role_groups(**kwargs: Any) -> None:
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = Q()
        for entry in codenames:
            app_label, _, codename = entry.rpartition(".")
            wanted |= Q(content_type__app_label=app_label or "incidents", codename=codename)
        group.permissions.set(Permission.objects.filter(wanted))
