"""StatusHub settings, read from the environment.

With no environment at all the project runs "embedded": SQLite, a file-system Celery
broker and a file cache under ``var/``, so one command gives a working demo with a real,
separate worker. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from statushub.lib.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("STATUSHUB_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = DATABASE_URL is None

DEBUG = env_bool("DEBUG", default=False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not EMBEDDED:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set when DATABASE_URL is set")
    # Embedded demo only: a random key kept on disk so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()


def _key_encryption_keys() -> list[str]:
    """Fernet keys that encrypt publishers' private signing keys at rest. The first encrypts; all decrypt.

    Rotate by putting a new key first, running ``manage.py rotate_key_encryption``, then dropping the old one.
    """
    value = env_str("STATUSHUB_KEY_ENCRYPTION_KEYS")
    if value:
        return [key.strip() for key in value.split(",") if key.strip()]
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "STATUSHUB_KEY_ENCRYPTION_KEYS (or _FILE) must be set when DATABASE_URL is set"
        )
    path = VAR_DIR / "key_encryption_key"
    if not path.exists():
        from cryptography.fernet import Fernet

        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return [path.read_text().strip()]


STATUSHUB_KEY_ENCRYPTION_KEYS = _key_encryption_keys()
# First retry delay of a failed delivery; each later retry doubles it (with jitter), up to 30 minutes.
STATUSHUB_DELIVERY_BACKOFF_SECONDS = float(env_str("STATUSHUB_DELIVERY_BACKOFF_SECONDS", "5") or "5")
# Publishing needs the password re-entered within this many seconds.
STATUSHUB_REAUTH_SECONDS = env_int("STATUSHUB_REAUTH_SECONDS", 600)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# What the public page calls itself and where it lives.
STATUSHUB_SITE_NAME = env_str("STATUSHUB_SITE_NAME", "StatusHub") or "StatusHub"
STATUSHUB_SITE_URL = (
    env_str("STATUSHUB_SITE_URL", "http://localhost:8000" if EMBEDDED else None) or ""
).rstrip("/")
if not STATUSHUB_SITE_URL:
    # Signed into every statement for good: a wrong default would make every update fail verification.
    raise ImproperlyConfigured(
        "STATUSHUB_SITE_URL (the public address, e.g. https://status.example.com) must be set"
    )
STATUSHUB_TIME_ZONE = env_str("STATUSHUB_TIME_ZONE", "Etc/UTC") or "Etc/UTC"
# How often an open public page asks whether anything changed (seconds).
STATUSHUB_POLL_SECONDS = env_int("STATUSHUB_POLL_SECONDS", 15)
# Cache-Control for public pages: short freshness, long stale-if-error so a CDN keeps serving in a crisis.
STATUSHUB_PUBLIC_MAX_AGE = env_int("STATUSHUB_PUBLIC_MAX_AGE", 5)
STATUSHUB_AVAILABILITY_DAYS = 90

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "simple_history",
    "incidents",
    "people",
    "channels",
    "subscribers",
    "alerts",
    "api",
]

MIDDLEWARE = [
    "statushub.lib.middleware.PublicResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "statushub.urls"
WSGI_APPLICATION = "statushub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES: dict[str, dict[str, object]]
if EMBEDDED:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "statushub.sqlite3",
            # Web, worker and beat share the file: wait for locks instead of failing,
            # and take the write lock up front so concurrent writers queue cleanly.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
else:
    DATABASES = {
        "default": dict(dj_database_url.parse(DATABASE_URL or "", conn_max_age=60, conn_health_checks=True))
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("CACHE_REDIS_URL") or REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "statushub") or "statushub",
        }
    }
else:
    # Shared by the web, worker and beat processes of the embedded demo.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not EMBEDDED)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Celery -----------------------------------------------------------------
if REDIS_URL:
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
    # Above the longest task retry backoff, so Redis never redelivers a task still being worked.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 2 * 60 * 60}
else:
    # A broker that needs no server: messages are files under var/broker, read by a real worker process.
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),  # worker remote control; default is ./control
        # The file broker is polled: every 0.1 s rather than every second, so a publish fans out at once.
        "polling_interval": 0.1,
    }
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "statushub") or "statushub"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    # Day rollover and drift repair; status changes also enqueue an immediate recompute.
    "recompute-availability": {
        "task": "incidents.tasks.recompute_all_availability",
        "schedule": 600.0,
    },
    # Re-queues deliveries a crash left pending or sending: nothing published is ever lost.
    "sweep-deliveries": {
        "task": "channels.tasks.sweep_deliveries",
        "schedule": 60.0,
    },
}

LOGIN_URL = "admin:login"
# History is a record, not an undo button: a revert would bypass services (and could unpublish an incident).
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO") or "INFO"},
}


# --- Subscribers: e-mail, webhook and Slack subscriptions (issue 5) --------------------------------------

# --- Feeds and WebSub (issue 5) --------------------------------------------------------------------------

# --- Engineers' API (issue 5) ----------------------------------------------------------------------------

# --- Inbound alerts (issue 5) ----------------------------------------------------------------------------
