#!/usr/bin/env bash
# One command for a working demo: install, migrate, seed, then run web + worker + scheduler.
# With no environment it runs embedded (SQLite, file-system broker); DATABASE_URL/REDIS_URL switch to PostgreSQL/Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_bootstrap.sh

export STATUSHUB_SITE_NAME="${STATUSHUB_SITE_NAME:-Northwind Cloud}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
export STATUSHUB_SITE_URL="${STATUSHUB_SITE_URL:-http://localhost:$PORT}"
mkdir -p var/log

echo "==> Migrating and seeding the demo data"
python manage.py migrate --noinput -v0
python manage.py collectstatic --noinput -v0
python manage.py seed_demo
# The public pages are served from a snapshot rendered once per change; build it before the first visitor.
python manage.py snapshot --rebuild --no-progress

pids=()
cleanup() {
    trap - EXIT INT TERM
    echo; echo "==> Stopping web, worker and scheduler"
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# Threads: deliveries wait on other services, so one slow channel must not hold up the rest.
celery -A statushub worker --loglevel=INFO --pool=threads --concurrency=8 >var/log/worker.log 2>&1 &
pids+=($!)
celery -A statushub beat --loglevel=INFO >var/log/beat.log 2>&1 &
pids+=($!)
# granian: 3-9x gunicorn's requests per second on the public pages, measured by bench/surge.py.
granian --interface wsgi --host "$HOST" --port "$PORT" --workers 2 --blocking-threads 8 \
    --access-log statushub.wsgi:application >var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 50); do
    curl -fs -o /dev/null "http://$HOST:$PORT/" && break
    sleep 0.2
done

cat <<MSG

  StatusHub demo is running.
    Public status page   http://localhost:$PORT/
    Compose and publish  http://localhost:$PORT/manage/
    Admin                http://localhost:$PORT/admin/
  Logins (password northwind-demo for all):
    dana   — Publisher (CEO)            priya — Publisher (VP Engineering)
    sam    — Communicator (comms lead)  lee   — Communicator (support)
    marco  — Engineer                   admin — superuser
  dana, priya and admin then type a code from an authenticator app; get it with
    python manage.py demo_code dana   (in the virtualenv)
  Logs: var/log/{web,worker,beat}.log.  Ctrl-C stops everything.

MSG
wait -n "${pids[@]}"
echo "A process exited; see var/log/." >&2
exit 1
