from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = "Subscribers"

    def ready(self) -> None:
        from anymail.signals import inbound, tracking

        from incidents.signals import update_published
        from subscribers import receivers

        update_published.connect(receivers.on_update_published, dispatch_uid="subscribers-fan-out")
        tracking.connect(receivers.on_tracking, dispatch_uid="subscribers-bounces")
        inbound.connect(receivers.on_inbound, dispatch_uid="subscribers-mailto-unsubscribe")
