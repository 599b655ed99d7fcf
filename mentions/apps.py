from django.apps import AppConfig


class MentionsConfig(AppConfig):
    name = "mentions"
    verbose_name = "Mentions"

    def ready(self) -> None:
        from mentions import audit
        from people import audit as audit_log
        from people import roles

        audit_log.register(audit.Action)

        # Customers' words and handles: the comms team's, not engineering's. Publishers choose where we listen.
        roles.grant(
            "mentions",
            communicator={
                "view_mention",
                "add_mention",
                "change_mention",
                "view_mentionsource",
                "view_savedreply",
                "view_mentionreply",
                "add_mentionreply",
                "view_spike",
            },
            publisher={
                "add_mentionsource",
                "change_mentionsource",
                "delete_mentionsource",
                "add_savedreply",
                "change_savedreply",
                "delete_savedreply",
            },
        )
