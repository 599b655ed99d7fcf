from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents and components"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        import incidents.feed_tasks  # noqa: F401  (connects the WebSub ping after each publish)
        from incidents import signals  # noqa: F401  (connects cache invalidation)
        from incidents.roles import sync_role_groups

        # After every app, not just this one: roles include other apps' permissions (channels), made in their turn.
        post_migrate.connect(sync_role_groups, dispatch_uid="statushub-sync-role-groups")
