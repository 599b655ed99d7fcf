from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and components"

    def ready(self) -> None:
        import incidents.feed_tasks  # noqa: F401  (connects the WebSub ping after each publish)
        from incidents import audit, signals  # noqa: F401  (signals: connects cache invalidation)
        from incidents.permissions import PUBLISH
        from people import audit as audit_log
        from people import roles

        audit_log.register(audit.Action)
        roles.grant(
            "incidents",
            engineer={
                "view_incident", "change_incident",  # change: to add notes inline; details stay read-only
                "view_progressnote", "add_progressnote", "change_progressnote",
                "view_component", "view_componentgroup", "change_component_status",
                "view_affectedcomponent", "add_affectedcomponent", "change_affectedcomponent",
                "view_incidentupdate", "view_incidentrole", "view_componentstatuschange",
            },
            communicator={
                "add_incident", "edit_incident_details", "add_updatedraft", "change_updatedraft",
                "view_updatedraft", "add_incidentrole", "change_incidentrole", "delete_incidentrole",
                "delete_affectedcomponent",
            },
            publisher={"add_incidentupdate", "publish_update"},
        )  # fmt: skip
        # Publishers speak for the company: they sign in with a second factor.
        roles.require_second_factor(PUBLISH)
