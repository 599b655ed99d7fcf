"""The audit log's actions, registered by the app that records them.

Each app lists its own actions as ``TextChoices`` and registers them from its ``AppConfig.ready()``: the log
stores the value, and shows the label registered for it. People knows only its own (sign-ins, roles, second
factors); a new app adds its actions without a migration here.
"""

from django.db import models

_labels: dict[str, str] = {}


def register(actions: type[models.TextChoices]) -> None:
    for value, label in actions.choices:
        known = _labels.get(value)
        if known is not None and known != label:
            raise ValueError(f"audit action {value!r} is registered twice, as {known!r} and {label!r}")
        _labels[value] = str(label)


def label(action: str) -> str:
    return _labels.get(action, action)


def choices() -> list[tuple[str, str]]:
    return sorted(_labels.items(), key=lambda item: item[1])


class Action(models.TextChoices):
    """What people do to their own accounts and others' roles."""

    ROLE_CHANGED = "role_changed", "Changed someone's roles"
    LOGIN = "login", "Publisher logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    REAUTH = "reauth", "Re-entered password to publish"
    SECOND_FACTOR = "second_factor", "Changed or used a second factor"
    TOKEN_CREATED = "token_created", "Created an API token"
    TOKEN_REVOKED = "token_revoked", "Revoked an API token"
