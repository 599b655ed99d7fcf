from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest

from people.models import AuditEvent, Profile


def profile_for(user: User) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    target: object = "",
    data: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    actor_name = ""
    if actor is not None and actor.pk:
        actor_name = actor.get_full_name() or actor.get_username()
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_name=actor_name,
        action=action,
        target=str(target)[:200],
        data=data or {},
        ip=ip,
    )
