from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        from api import audit, scopes
        from people import audit as audit_log
        from people import tokens

        audit_log.register(audit.Action)
        tokens.register_scopes(*scopes.API_SCOPES)  # what a personal token may be used for
