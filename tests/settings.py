"""Test settings: the real settings (PostgreSQL and Redis from the environment) plus test-only speedups."""

import os

from statushub.settings import *  # noqa: F403
from statushub.settings import CACHES, STATIC_ROOT

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Each test run gets its own cache namespace and queue, so runs never see each other's keys or tasks.
_RUN = f"test-{os.getpid()}"
CACHES["default"]["KEY_PREFIX"] = _RUN
CELERY_TASK_DEFAULT_QUEUE = _RUN
STATUSHUB_SNAPSHOT_PREFIX = f"{_RUN}:snapshot"
STATUSHUB_TRANSPORT_OVERRIDES = True  # channels point at local fake servers
STATUSHUB_SNAPSHOT_RECHECK_SECONDS = 0.0  # a test reads what it just wrote
STATUSHUB_SNAPSHOT_DIR = STATIC_ROOT.parent / "snapshots" / _RUN

# The fake services answer on loopback.
STATUSHUB_OUTBOUND_ALLOW_NETWORKS = ["127.0.0.0/8", "::1/128"]

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing directory
