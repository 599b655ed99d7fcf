from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    # Our own fan-out app; the Django Channels package is deliberately not used anywhere.
    name = "channels"
    label = "channels"
    verbose_name = "Channels and deliveries"

    def ready(self) -> None:
        from channels import audit, receivers
        from incidents.signals import update_publishing
        from people import audit as audit_log
        from people import roles

        audit_log.register(audit.Action)
        # Communicators see where updates go; publishers, who speak for the company, connect and change the
        # brand's channels.
        roles.grant(
            "channels",
            communicator={"view_channel", "view_delivery"},
            publisher={"add_channel", "change_channel"},
        )
        update_publishing.connect(receivers.write_deliveries, dispatch_uid="statushub-channel-deliveries")
