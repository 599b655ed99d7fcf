from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People and audit log"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from people import audit, signals  # noqa: F401  (signals: records logins and role changes)
        from people.roles import sync_role_groups

        audit.register(audit.Action)
        # After every app, not just this one: each app grants its own permissions, made in its turn.
        post_migrate.connect(sync_role_groups, dispatch_uid="statushub-sync-role-groups")
