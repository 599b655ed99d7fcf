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

# The demo supervises its processes as systemd does in production (deploy/systemd/): a process that dies is
# started again, and only Ctrl-C stops the site.
declare -A pids=() started=()
stopping=
cleanup() {
    trap - EXIT INT TERM
    stopping=1
    echo; echo "==> Stopping web, worker and scheduler"
    for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    # A warm shutdown finishes the tasks in hand; whatever still runs after 20 s is killed.
    for _ in $(seq 1 40); do
        alive=
        for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.5
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Each process runs in its own process group (setsid), so stopping or restarting one also ends the children it
# leaves behind (granian's workers outlive a killed granian and keep the port).
start() {
    case "$1" in
        # Threads: deliveries wait on other services, so one slow channel must not hold up the rest.
        worker) setsid celery -A statushub worker --loglevel=INFO --pool=threads --concurrency=8 >>var/log/worker.log 2>&1 & ;;
        beat) setsid celery -A statushub beat --loglevel=INFO >>var/log/beat.log 2>&1 & ;;
        # granian: 3-9x gunicorn's requests per second on the public pages, measured by bench/surge.py.
        web) setsid granian --interface wsgi --host "$HOST" --port "$PORT" --workers 2 --blocking-threads 8 \
                --access-log statushub.wsgi:application >>var/log/web.log 2>&1 & ;;
    esac
    pids[$1]=$!
    started[$1]=$SECONDS
}

for name in worker beat web; do start "$name"; done

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
  Logs: var/log/{web,worker,beat}.log.  A process that dies is restarted (var/log/demo.log).
  Ctrl-C stops everything.

MSG
# Restart whatever exits, after a pause that grows while it keeps failing soon after a start (1, 2, 4 ... 30 s).
declare -A backoff=([worker]=1 [beat]=1 [web]=1)
while [ -z "$stopping" ]; do
    wait -n "${pids[@]}" 2>/dev/null || true
    for name in "${!pids[@]}"; do
        if [ -z "$stopping" ] && ! kill -0 "${pids[$name]}" 2>/dev/null; then
            wait "${pids[$name]}" 2>/dev/null && code=0 || code=$?
            (( SECONDS - started[$name] > 60 )) && backoff[$name]=1
            echo "$(date -u +%FT%TZ) $name exited ($code); restarting in ${backoff[$name]} s. See var/log/$name.log." \
                | tee -a var/log/demo.log >&2
            kill -KILL -- "-${pids[$name]}" 2>/dev/null || true
            sleep "${backoff[$name]}"
            start "$name"
            backoff[$name]=$(( backoff[$name] * 2 > 30 ? 30 : backoff[$name] * 2 ))
        fi
    done
done
