"""Audit what matters for trust: publishers logging in, failed logins, and role (group) changes."""

from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from people.audit import Action
from people.roles import second_factor_permissions
from people.services import audit_record


@receiver(user_logged_in)
def _publisher_logged_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if any(user.has_perm(perm) for perm in second_factor_permissions()):
        audit_record(action=Action.LOGIN, actor=user, target=user.get_username(), request=request)


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Never record the password; the username tried is what an admin needs.
    audit_record(action=Action.LOGIN_FAILED, target=str(credentials.get("username", "")), request=request)


@receiver(m2m_changed, sender=User.groups.through)
def _roles_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in ("post_add", "post_remove", "post_clear") or not isinstance(instance, User):
        return
    from django.contrib.auth.models import Group

    names = sorted(Group.objects.filter(pk__in=pk_set or ()).values_list("name", flat=True))
    audit_record(
        action=Action.ROLE_CHANGED,
        target=instance.get_username(),
        data={"change": action.removeprefix("post_"), "groups": names},
    )
