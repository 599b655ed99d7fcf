from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    # Our own fan-out app; the Django Channels package is deliberately not used anywhere.
    name = "channels"
    label = "channels"
    verbose_name = "Channels and deliveries"
