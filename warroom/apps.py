from django.apps import AppConfig


class WarroomConfig(AppConfig):
    name = "warroom"
    verbose_name = "War room"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from incidents.signals import incident_resolved, update_publishing
        from people import audit as audit_log
        from people import roles
        from warroom import audit, guard, receivers
        from warroom.models import JargonTerm

        audit_log.register(audit.Action)
        # The whole team (engineers included: the tech liaison keeps the situation) works in the console and may
        # suggest wording; publishers set the targets, templates and the jargon list.
        team = {
            "view_situationversion", "add_situationversion", "view_timelineentry", "view_promise",
            "view_suggestion", "add_suggestion", "view_reminder", "view_severitypolicy", "view_jargonterm",
        }  # fmt: skip
        roles.grant(
            "warroom",
            engineer=team,
            publisher={"change_severitypolicy", "add_jargonterm", "change_jargonterm", "delete_jargonterm"},
        )
        update_publishing.connect(receivers.on_update_publishing, dispatch_uid="warroom-promises")
        incident_resolved.connect(receivers.on_incident_resolved, dispatch_uid="warroom-resolved")
        post_save.connect(guard.forget_jargon, sender=JargonTerm, dispatch_uid="warroom-jargon-saved")
        post_delete.connect(guard.forget_jargon, sender=JargonTerm, dispatch_uid="warroom-jargon-deleted")
