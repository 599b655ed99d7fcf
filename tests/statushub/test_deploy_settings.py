"""Production settings: `manage.py check --deploy` is clean, https sites redirect http and send HSTS."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({name: getattr(s, name, None) for name in "
    "('SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SECURE_HSTS_PRELOAD', "
    "'SECURE_PROXY_SSL_HEADER', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'DEBUG')}))"
)


def _production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """What a production host sets (deploy/README.md), nothing inherited from the test run's own settings."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("SECURE_", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="statushub.settings",
        DATABASE_URL="postgres://statushub@db.internal:5432/statushub",
        REDIS_URL="redis://broker.internal:6379/0",
        SECRET_KEY=secrets.token_urlsafe(50),
        STATUSHUB_KEY_ENCRYPTION_KEYS=os.environ["STATUSHUB_KEY_ENCRYPTION_KEYS"],
        STATUSHUB_SITE_URL="https://status.example.com",
        ALLOWED_HOSTS="status.example.com",
        STATUSHUB_VAR_DIR=str(tmp_path),
        DEBUG="false",
    )
    env.update(overrides)
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def _settings(env: dict[str, str]) -> dict[str, object]:
    done = _run(env, "-c", f"import django; django.setup(); {SHOW}")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    done = _run(_production_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_an_https_site_redirects_plain_http_and_sends_hsts(tmp_path):
    values = _settings(_production_env(tmp_path))

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True and values["SECURE_HSTS_PRELOAD"] is True
    # Behind the shipped nginx configs, which always set X-Forwarded-Proto to how the reader came.
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True


def test_a_plain_http_site_neither_redirects_nor_sends_hsts_and_check_deploy_says_so(tmp_path):
    env = _production_env(tmp_path, STATUSHUB_SITE_URL="http://status.intranet")
    values = _settings(env)

    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    done = _run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W008" in done.stderr


def test_each_can_be_set_from_the_environment(tmp_path):
    env = _production_env(
        tmp_path,
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_PRELOAD="false",
        SECURE_SSL_REDIRECT="false",
        STATUSHUB_TRUST_X_FORWARDED_PROTO="false",
    )
    values = _settings(env)

    assert values["SECURE_HSTS_SECONDS"] == 600 and values["SECURE_HSTS_PRELOAD"] is False
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_PROXY_SSL_HEADER"] is None


def test_a_typo_stops_startup(tmp_path):
    done = _run(_production_env(tmp_path, SECURE_HSTS_SECONDS="a year"), "manage.py", "check")
    assert done.returncode != 0 and "SECURE_HSTS_SECONDS must be an integer" in done.stderr
