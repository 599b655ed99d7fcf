from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        from api import audit
        from people import audit as audit_log

        audit_log.register(audit.Action)
