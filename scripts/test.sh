#!/usr/bin/env bash
# One command for the whole suite on a fresh machine: install, lint, type-check, test on PostgreSQL + Redis,
# including a real Celery worker and Chromium driven by Playwright. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_bootstrap.sh

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ]; then
    echo "==> Installing Debian's Chromium (browser tests) and nginx (the shipped static-site config is tested)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium nginx-light >/dev/null
fi

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/statushub}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/14}"
export SECRET_KEY="${SECRET_KEY:-test-only-secret-key-not-for-production}"
export STATUSHUB_VAR_DIR="${STATUSHUB_VAR_DIR:-$PWD/var/test}"
export STATUSHUB_SITE_URL="${STATUSHUB_SITE_URL:-http://localhost:8000}"
export STATUSHUB_KEY_ENCRYPTION_KEYS="${STATUSHUB_KEY_ENCRYPTION_KEYS:-$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")}"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy .
echo "==> import-linter (imports run one way: lib <- integrations <- people <- incidents <- channels | subscribers | alerts <- console | api)"
lint-imports --no-logo --no-cache
echo "==> migrations are up to date"
python manage.py makemigrations --check --dry-run >/dev/null
echo "==> manage.py check --deploy (production settings: https site, a real secret key, DEBUG off)"
env -u DJANGO_SETTINGS_MODULE -u DEBUG DJANGO_SETTINGS_MODULE=statushub.settings \
    SECRET_KEY="$(python -c "import secrets; print(secrets.token_urlsafe(50))")" \
    STATUSHUB_SITE_URL=https://status.example.com ALLOWED_HOSTS=status.example.com \
    python manage.py check --deploy --fail-level WARNING
echo "==> pytest (PostgreSQL: $DATABASE_URL, Redis: $REDIS_URL)"
pytest "$@"
