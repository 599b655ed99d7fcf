"""E-mail fan-out benchmark: one published update mailed to N subscribers through a local SMTP sink.

Run by hand, not by CI. One command does everything, end to end, and prints a table:

    .venv/bin/python bench/mail_fanout.py                     # 100,000 subscribers (the target's size)
    .venv/bin/python bench/mail_fanout.py --subscribers 5000  # a quick iteration
    .venv/bin/python bench/mail_fanout.py --subscribers 6000 --kill 3  # kill mode: mails sent twice per SIGKILL

It needs PostgreSQL and Redis (as ``scripts/test.sh`` does) and uses only its own: it drops and re-creates the
database ``bench_mail`` (and drops it at the end unless ``--keep-db``), uses Redis database 11 with a queue
and cache prefix of its own (removed at the end), and ``/tmp/bench-mail`` (the worker's log is there). Override
with ``BENCH_DATABASE_URL`` (the name must start with ``bench``: it is dropped), ``BENCH_REDIS_URL`` and
``BENCH_VAR_DIR``. SECRET_KEY and the key-encryption key are made per run. Everything it starts (the SMTP sink,
the Celery worker) is stopped at the end, also on Ctrl-C.

What it measures: from the commit of one update published through ``incidents.services.update_publish`` (the
real path: signed; its ``update_published`` signal queues the fan-out) until the sink has accepted N messages
and every MailDelivery row is marked sent. In between, a real Celery worker (Redis broker) writes the N
deliveries, queues the batches and sends each batch over one SMTP connection, every message built for its
subscriber: their own manage and unsubscribe links, List-Unsubscribe headers and Message-ID. The sink counts
messages, distinct recipients (a duplicate fails the run) and messages without List-Unsubscribe.

Kill mode (``--kill K``): the worker (all its processes) is SIGKILLed K times while it sends and started
again; then, as the sweeper would once ``STUCK_AFTER`` has passed, the interrupted rows are queued again until
every row is sent. The table gives the mails the sink accepted twice, per kill (target: at most 5). A batch marks
each mail sent as soon as the server accepted it, so a kill can resend at most the one mail per running batch
whose mark had not been committed yet.

Target (issue): 100,000 e-mails in at most 60 s, i.e. 1,667 messages/s. For a smaller N the target scales
(N / 1,667 s), so ``total / target`` compares across sizes, though fixed costs weigh more on small runs.
Everything shares one machine: the worker, the sink, PostgreSQL and Redis, and whatever else runs there. The
figures are ratios from one run on that machine; the table splits the CPU time between the processes.

The sink. aiosmtpd in a process of its own, changed only where it would otherwise cost far more per message
than an MTA's front end: it advertises PIPELINING and, as Postfix does, answers a pipelined group in one
write; it reads DATA as one block rather than one asyncio read per line; it reads a plain ``<local@domain>``
without the email package's RFC 5322 parser; it formats no log line per command. Stock aiosmtpd took 450-700
µs of CPU per message here, most of the budget (2 cores x 60 s / 100,000 = 1.2 ms per message, everything
included); this one takes about 110 µs.

The mail worker it runs, and the one to run in production for mail: ``--pool=prefork --concurrency=<2 per
core>``. Building mail is CPU-bound Python, so processes, not threads (one GIL); yet each process waits on the
SMTP server and PostgreSQL for about half of each mail, so two per core keep the cores busy. Measured with
20,000 subscribers on 2 cores, one run each: prefork 2 → 3,040/s, 3 → 3,270/s, 4 → 3,630/s; threads 8 →
2,960/s. A deployment would route ``subscribers.tasks.send_mail_batch`` and ``fan_out`` to a ``mail`` queue
served by such a worker, so a fan-out never waits behind channel deliveries (nor they behind it); the
benchmark's worker serves a queue of its own with every task.

Where the time goes, per message (100,000 on 2 otherwise idle cores: 25 s, total / target 0.42): worker ~210
µs (two signed tokens ~20, filling in the copy ~40, the SMTP client ~50, the batch's queries and Celery the
rest), sink ~110 µs, PostgreSQL ~115 µs (an insert and two updates per delivery, four indexes each). If the
target is missed, the table says by how much and how much CPU the run's processes and everything else took.
What would close it:
 - other work on the same cores: the run needs about 44 core-s of the 120 that two cores give in 60 s, so it
   misses once other work takes more than about three fifths of the machine for that minute (as a parallel
   benchmark did during development). Mail workers on cores of their own (the ``mail`` queue above) close it;
 - the SMTP server here shares the cores (the sink's ~110 µs a message); a real MTA or ESP runs elsewhere;
 - Celery's Django fixup closes the database connection before and after every task, so every batch opens a
   new PostgreSQL connection; ``CELERY_DB_REUSE_MAX = 1000`` in settings keeps them: PostgreSQL's CPU fell
   from ~136 to ~102 µs a message with 20,000 subscribers (one run each);
 - per-message work that could still go: pipelining the end of one message with the next envelope (one round
   trip, not two), deriving each token's HMAC key once per batch rather than per token, and bigger batches
   (``STATUSHUB_MAIL_BATCH_SIZE``; 200 stays within the per-connection limits of some providers).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _cpu import CpuSnapshot
from _harness import ROOT, celery_worker, celery_worker_command, drop_database, free_port, recreate_database
from _mail_report import TARGET_MESSAGES, Options, Result, report
from _mail_sink import Counters, sink

# The mail worker this benchmark runs, as documented above for production: prefork, two processes per core.
MAIL_WORKER_CONCURRENCY = 2 * (os.cpu_count() or 1)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_mail"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/11"
DEFAULT_VAR_DIR = "/tmp/bench-mail"  # noqa: S108  (the benchmark's own scratch directory)


# --- The run ------------------------------------------------------------------------------------------------


def _environment(port: int, run: str, batch_size: int | None) -> dict[str, str]:
    """What the benchmark's own Django (the publisher) and its worker read. Set before Django starts."""
    from cryptography.fernet import Fernet

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = urlsplit(database_url).path.lstrip("/")
    if not name.startswith("bench"):
        sys.exit(f"BENCH_DATABASE_URL names {name!r}: it is dropped, so its name must start with 'bench'")
    redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    env = {
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_REDIS_URL": redis_url,
        "STATUSHUB_VAR_DIR": os.environ.get("BENCH_VAR_DIR", DEFAULT_VAR_DIR),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATUSHUB_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STATUSHUB_SITE_URL": "https://status.example.com",
        "CELERY_QUEUE": run,
        "CACHE_KEY_PREFIX": run,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "DEBUG": "0",
    }
    if batch_size:
        env["STATUSHUB_MAIL_BATCH_SIZE"] = str(batch_size)
    return env


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


@contextmanager
def _worker(env: dict[str, str], options: Options, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = celery_worker_command(options.pool, options.concurrency)
    # Stopped warm: the pool's children finish their task and exit.
    with celery_worker(command, log, env={**os.environ, **env}, stop_timeout=30) as process:
        spy: subprocess.Popen[bytes] | None = None
        try:
            if options.py_spy:
                spy = subprocess.Popen(
                    [shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses", "--pid", str(process.pid), "--rate", "200",
                     "--format", {".svg": "flamegraph", ".json": "speedscope"}.get(options.py_spy.suffix, "raw"),
                     "--output", str(options.py_spy)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                )  # fmt: skip
                time.sleep(1)
            yield process
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                with suppress(subprocess.TimeoutExpired):
                    spy.wait(30)


def _setup_data(n: int) -> tuple[Any, Any]:
    """Migrate, then N confirmed subscribers (for every component), a publisher and an open incident."""
    from datetime import timedelta

    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from incidents.models import Incident
    from people import roles
    from subscribers.models import Subscriber

    call_command("migrate", verbosity=0)
    # The publish path renders the public pages, which need collected static files, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)
    confirmed = timezone.now() - timedelta(days=1)
    Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{number:06d}@example.com",
                state=Subscriber.State.ACTIVE,
                all_components=True,
                confirmed_at=confirmed,
            )
            for number in range(n)
        ),
        batch_size=5000,
    )
    # As autovacuum would long since have done (it is off on some servers, this one included).
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Subscriber._meta.db_table}")
    roles.sync_role_groups()
    publisher = User.objects.create_user(
        "bench-publisher", password=secrets.token_urlsafe(16), first_name="Priya", last_name="Raman",
        is_staff=True,
    )  # fmt: skip
    publisher.groups.add(Group.objects.get(name=roles.PUBLISHER))
    detected = timezone.now().replace(microsecond=0) - timedelta(minutes=20)
    incident = Incident.objects.create(
        title="Card payments failing for some customers",
        severity=Incident.Severity.SEV2,
        detected_at=detected,
        started_at=detected,
    )
    return publisher, incident


BODY = """We are seeing **elevated error rates** for card payments in the EU region since 14:02 UTC.

- Payments retried automatically are *not* charged twice.
- Invoices and the dashboard are unaffected.

Our payments team has identified a faulty deploy and is rolling it back. Next update within 30 minutes."""


def _publish(publisher: Any, incident: Any) -> tuple[Any, float, float]:
    """Publish through the real path; the times (monotonic, wall) of its commit."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from incidents import services

    committed: dict[str, float] = {}

    def mark() -> None:
        committed["monotonic"], committed["wall"] = time.monotonic(), time.time()

    with transaction.atomic():
        # Registered first, so it runs first on commit: before the signal queues the fan-out.
        transaction.on_commit(mark)
        update = services.update_publish(
            incident=incident, author=publisher, status="identified", body=BODY, author_title="VP Engineering",
            next_update_at=timezone.now() + timedelta(minutes=30),
        )  # fmt: skip
    return update, committed["monotonic"], committed["wall"]


def _wait(
    result: Result, counters: Counters, update: Any, t0: float, t0_wall: float, timeout: float,
    worker: subprocess.Popen[bytes],
) -> None:  # fmt: skip
    from subscribers.models import Fanout, MailDelivery

    deadline = t0 + timeout
    last_report = time.monotonic()

    def waiting() -> bool:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited ({worker.returncode}); see its log")
        return time.monotonic() < deadline

    def sent() -> int:
        return MailDelivery.objects.filter(update=update, state=MailDelivery.State.SENT).count()

    while counters.received.value < result.n and waiting():
        time.sleep(0.05)
        if time.monotonic() - last_report >= 5:
            last_report = time.monotonic()
            print(f"    {time.monotonic() - t0:6.1f} s: {counters.received.value:,} received", flush=True)
    result.rows_sent = sent()
    while result.rows_sent < result.n and waiting():
        time.sleep(0.05)
        result.rows_sent = sent()
    if result.rows_sent >= result.n:
        result.all_sent = time.monotonic() - t0
    result.timed_out = time.monotonic() >= deadline
    result.received = counters.received.value
    result.duplicates = counters.duplicates.value
    result.without_unsubscribe = counters.without_unsubscribe.value
    result.connections = counters.connections.value
    if counters.first_at.value:
        result.first_message = counters.first_at.value - t0
    if result.received >= result.n:
        result.last_message = counters.last_at.value - t0
    fanout = Fanout.objects.filter(update=update, completed_at__isnull=False).first()
    if fanout and fanout.completed_at:
        result.fanout_written = fanout.completed_at.timestamp() - t0_wall


def run(options: Options) -> Result:
    port = free_port()
    run_id = f"bench-mail-{os.getpid()}"
    env = _environment(port, run_id, options.batch_size)
    os.environ.update(env)
    var_dir = Path(env["STATUSHUB_VAR_DIR"])
    var_dir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))

    _step(f"database {urlsplit(env['DATABASE_URL']).path.lstrip('/')}: re-created, migrated")
    recreate_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    result = Result(n=options.subscribers, batch_size=settings.STATUSHUB_MAIL_BATCH_SIZE)
    _step(f"{options.subscribers:,} confirmed subscribers")
    publisher, incident = _setup_data(options.subscribers)
    try:
        _step(f"SMTP sink (aiosmtpd) on 127.0.0.1:{port}")
        with sink(port) as (counters, sink_pid):
            _step(f"Celery worker: --pool={options.pool} --concurrency={options.concurrency}, queue {run_id}")
            if options.kills:
                _run_with_kills(result, counters, env, options, var_dir, publisher, incident)
                return result
            with _worker(env, options, var_dir / "worker.log") as worker:
                before = CpuSnapshot.take()
                _step("publishing one update; waiting for every mail")
                update, t0, t0_wall = _publish(publisher, incident)
                _wait(result, counters, update, t0, t0_wall, options.timeout, worker)
                after = CpuSnapshot.take()
                result.wall = after.at - t0
                result.cpu = {
                    "worker (Celery, all processes)": after.used(before, after.tree(worker.pid)),
                    "SMTP sink": after.used(before, {sink_pid}),
                    "PostgreSQL server (all its databases)": after.used(before, after.named("postgres")),
                    "Redis server": after.used(before, after.named("redis-server")),
                    "this script (publishing, polling)": after.used(before, {os.getpid()}),
                    "whole machine (anything else running included)": after.machine - before.machine,
                }
    finally:
        _cleanup(env, run_id, options)
        connections.close_all()
        if not options.keep_db:
            drop_database(env["DATABASE_URL"])
    return result


# --- Kill mode: SIGKILLs mid-batch, then the sweeper; how many mails went out twice ---------------------------


def _kill_tree(pid: int) -> None:
    """SIGKILL the worker and its pool's processes at once, as the OOM killer or a lost node would."""
    for member in CpuSnapshot.take().tree(pid):
        with suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def _wait_idle(
    counters: Counters, worker: subprocess.Popen[bytes], deadline: float, quiet: float = 3.0
) -> None:
    """Until the sink has received nothing for ``quiet`` seconds: every batch still running has finished."""
    last, since = counters.received.value, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited ({worker.returncode}); see its log")
        time.sleep(0.1)
        if counters.received.value != last:
            last, since = counters.received.value, time.monotonic()


def _sweep_now(update: Any) -> None:
    """What the sweeper does once ``STUCK_AFTER`` has passed, at once: the rows a killed worker left sending,
    and those whose batch task it had taken, are made old enough and the sweeper queues them again."""
    from datetime import timedelta

    from django.utils import timezone

    from subscribers import sending
    from subscribers.models import MailDelivery

    long_ago = timezone.now() - sending.STUCK_AFTER - timedelta(minutes=1)
    MailDelivery.objects.filter(update=update).exclude(state=MailDelivery.State.SENT).update(
        updated_at=long_ago, next_attempt_at=long_ago
    )
    sending.sweep()


def _run_with_kills(
    result: Result, counters: Counters, env: dict[str, str], options: Options, var_dir: Path, publisher: Any,
    incident: Any,
) -> None:  # fmt: skip
    """Publish, SIGKILL the whole worker ``options.kills`` times while it sends (evenly over the run), start it
    again each time, then let the sweeper resume what the kills interrupted until every row is sent. The sink
    counts the mails it accepted twice; the time figures are not comparable with a run without kills."""
    from subscribers.models import MailDelivery

    log = var_dir / "worker.log"
    deadline = time.monotonic() + options.timeout
    with ExitStack() as stack:
        worker = stack.enter_context(_worker(env, options, log))
        _step(f"publishing one update; {options.kills} SIGKILLs of the worker while it sends")
        update, t0, t0_wall = _publish(publisher, incident)
        for kill in range(1, options.kills + 1):
            threshold = result.n * kill // (options.kills + 1)
            while counters.received.value < threshold and time.monotonic() < deadline:
                if worker.poll() is not None:
                    raise RuntimeError(f"the Celery worker exited ({worker.returncode}); see {log}")
                time.sleep(0.01)
            _kill_tree(worker.pid)
            worker.wait(10)
            result.kills += 1
            print(f"    SIGKILL {kill} at {counters.received.value:,} received", flush=True)
            stack.close()
            worker = stack.enter_context(_worker(env, options, log.with_name(f"worker-{kill}.log")))
        while time.monotonic() < deadline:
            _wait_idle(counters, worker, deadline)
            if not MailDelivery.objects.filter(update=update).exclude(state=MailDelivery.State.SENT).exists():
                break
            _sweep_now(update)
            result.sweeps += 1
        _wait(result, counters, update, t0, t0_wall, max(1.0, deadline - time.monotonic()), worker)


def _cleanup(env: dict[str, str], run_id: str, options: Options) -> None:
    """Remove this run's queue and cache keys from Redis (the rest of the database is left alone)."""
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    client.delete(run_id)
    keys = list(client.scan_iter(match=f"{run_id}:*", count=1000))
    if keys:
        client.delete(*keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, default=TARGET_MESSAGES, help="N (default 100000)")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    parser.add_argument(
        "--concurrency", type=int, default=MAIL_WORKER_CONCURRENCY,
        help=f"worker processes or threads (default {MAIL_WORKER_CONCURRENCY}: 2 per core)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, help="STATUSHUB_MAIL_BATCH_SIZE (default: the setting's)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after this many seconds")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    parser.add_argument("--py-spy", type=Path, help="profile the worker into this file (.svg, .json or raw)")
    parser.add_argument(
        "--kill", type=int, default=0, metavar="K",
        help="kill mode: SIGKILL the worker K times while it sends, then count the mails sent twice",
    )  # fmt: skip
    args = parser.parse_args(argv)
    python = Path(sys.executable)
    with suppress(ValueError):
        python = python.relative_to(Path.cwd())
    command = shlex.join([str(python), *sys.argv])
    options = Options(
        subscribers=args.subscribers, pool=args.pool, concurrency=args.concurrency, batch_size=args.batch_size,
        timeout=args.timeout, keep_db=args.keep_db, py_spy=args.py_spy, command=command, kills=args.kill,
    )  # fmt: skip
    result = run(options)
    return 0 if report(result, options) else 1


if __name__ == "__main__":
    sys.exit(main())
