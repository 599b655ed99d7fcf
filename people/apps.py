from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People and audit log"

    def ready(self) -> None:
        from people import signals  # noqa: F401  (records logins and role changes)
