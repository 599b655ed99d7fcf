from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        from alerts import audit
        from people import audit as audit_log
        from people import roles

        audit_log.register(audit.Action)
        roles.grant(
            "alerts",
            communicator={"view_alertsource", "view_alert", "view_alertreceipt"},
            publisher={"add_alertsource", "change_alertsource"},
        )
