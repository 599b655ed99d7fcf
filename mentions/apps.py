from django.apps import AppConfig


class MentionsConfig(AppConfig):
    name = "mentions"
    verbose_name = "Mentions"

    def ready(self) -> None:
        from people import roles

        # Customers' words and handles: the comms team's, not engineering's. Publishers choose where we listen.
        roles.grant(
            "mentions",
            communicator={"view_mention", "add_mention", "change_mention", "view_mentionsource"},
            publisher={"add_mentionsource", "change_mentionsource", "delete_mentionsource"},
        )
