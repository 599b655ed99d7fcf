"""Celery tasks: load by id, call the domain, stay thin."""

import logging
import secrets
import shlex
import subprocess

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from incidents import snapshot, snapshot_export
from incidents.availability import recompute_component_days
from incidents.feed_tasks import websub_ping  # noqa: F401  (Celery discovers tasks.py modules only)
from incidents.models import Component
from incidents.signals import record_public_change
from statushub.lib.public_cache import bump_public_version


@shared_task(autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def recompute_availability(component_id: int) -> int:
    component = Component.objects.filter(pk=component_id).first()
    if component is None:
        return 0
    written = recompute_component_days(component)
    bump_public_version()
    record_public_change()  # the availability bars
    return written


@shared_task
def recompute_all_availability() -> int:
    written = 0
    for component in Component.objects.all():
        written += recompute_component_days(component)
    bump_public_version()
    return written


log = logging.getLogger(__name__)
_LOCK = "snapshot-refresh-lock"
_AGAIN = "snapshot-refresh-again"


@shared_task(ignore_result=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def refresh_snapshot() -> None:
    """Bring the public snapshot up to date. One refresh runs at a time; requests made meanwhile fold into one more."""
    cache.set(_AGAIN, 1, timeout=600)
    while cache.get(_AGAIN):
        token = secrets.token_hex(8)
        if not cache.add(_LOCK, token, timeout=300):
            return  # the running refresh sees _AGAIN when it finishes
        try:
            cache.delete(_AGAIN)
            written = snapshot.refresh(
                snapshot_export.deployment_store(), heartbeat=lambda: cache.touch(_LOCK, 300)
            )
            if written:
                # Also the retry of a publish's own bump that failed while Redis was down (statushub/lib/after_commit.py).
                bump_public_version()
            if written and settings.STATUSHUB_EXPORT_DIR and settings.STATUSHUB_EXPORT_COMMAND:
                push_export()  # under the lock: the copy does not change while it is pushed
        finally:
            if cache.get(_LOCK) == token:  # ours: a lock that expired meanwhile may be another worker's now
                cache.delete(_LOCK)


def push_export() -> None:
    """Run ``STATUSHUB_EXPORT_COMMAND``, ``{dir}`` standing for the export's directory (no shell is involved)."""
    try:
        words = shlex.split(settings.STATUSHUB_EXPORT_COMMAND)
    except ValueError as exc:
        log.error("STATUSHUB_EXPORT_COMMAND cannot be split into words: %s", exc)
        return
    command = [word.replace("{dir}", settings.STATUSHUB_EXPORT_DIR) for word in words]
    try:
        done = subprocess.run(command, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.error("The export push command failed to run: %s", exc)
        return
    if done.returncode != 0:
        log.error(
            "The export push command exited with %d: %s",
            done.returncode,
            done.stderr.decode(errors="replace")[-500:],
        )
