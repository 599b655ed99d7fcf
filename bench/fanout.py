"""Fan-out latency: from a publish committing to the last of its channels' deliveries being ``delivered``.

A hand-run benchmark, not a test. One command runs it end to end, from the repository root:

    .venv/bin/python bench/fanout.py

It empties and migrates its own PostgreSQL database, starts eight local fake services (one HTTP server per
channel, each answering every request after 200 ms) and a real Celery worker on Redis
(``celery -A statushub worker --pool=threads``), publishes 50 signed updates one after another through
``incidents.services.update_publish`` (a crisis: a few incidents, each with many updates), waits for each to
reach every channel, prints a table and stops everything it started. It exits 0 whether or not the target is
met: it is a report.

Its own resources, each overridable from the environment. The names carry a ``BENCH_`` prefix on purpose: the
benchmark empties its database, so a ``DATABASE_URL`` exported for something else must never be picked up.

    BENCH_DATABASE_URL   postgres://postgres@127.0.0.1:5432/bench_fanout (created if missing; must say "bench")
    BENCH_REDIS_URL      redis://127.0.0.1:6379/10 (its own queue and cache prefix, "bench-fanout")
    BENCH_VAR_DIR        /tmp/bench-fanout (the worker's log is worker.log there)
    SECRET_KEY, STATUSHUB_KEY_ENCRYPTION_KEYS   generated for the run unless set

Reading it. The floor is what the services themselves take: 200 ms for one answer, 400 ms for a channel that
needs two in a row (Reddit logs in with OAuth before every post; Bluesky's first post logs in, later ones reuse
the session). The per-channel table splits each delivery into the time before its first request reached the
service (queue, claim, loading the integration, building the request: the engine's own cost, which grows with
load because the deliveries of one publish share the worker's GIL and the machine's cores), the time at the
service, and the time to record the result. Publish #1 is the worker's first: it shows what a fresh worker costs.
Option ``--help`` lists the knobs (publishes, incidents, worker threads, pause between publishes).
"""

import argparse
import base64
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _fanout_services import KINDS, SERVICE_DELAY, Service, fake_services
from _harness import ROOT, celery_worker, celery_worker_command, create_database_if_missing

TARGET_P95 = 1.0  # seconds, from the issue
QUEUE = "bench-fanout"
BODY = (
    "Card payments are failing for about a third of customers in Europe. Refunds for any double charge are "
    "automatic; nobody needs to do anything. We have found the faulty release and are rolling it back now."
)
INCIDENTS = [
    "Payments failing in Europe",
    "Login errors for SSO customers",
    "API latency above 2 s",
    "Dashboard not loading",
    "Outbound webhooks delayed",
]


def configure_environment() -> dict[str, str]:
    """The settings the project reads, pointed at the benchmark's own database, Redis, queue and files."""
    from cryptography.fernet import Fernet

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_fanout")
    if "bench" not in urlsplit(database_url).path:
        sys.exit(f"refusing to empty {database_url}: the benchmark's database name must contain 'bench'")
    env = {
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"),
        "STATUSHUB_VAR_DIR": os.environ.get(
            "BENCH_VAR_DIR", str(Path(tempfile.gettempdir(), "bench-fanout"))
        ),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or base64.urlsafe_b64encode(os.urandom(40)).decode(),
        "STATUSHUB_KEY_ENCRYPTION_KEYS": os.environ.get("STATUSHUB_KEY_ENCRYPTION_KEYS")
        or Fernet.generate_key().decode(),
        "STATUSHUB_SITE_URL": "https://status.northwind.example",
        "STATUSHUB_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",  # the fake services listen on loopback
        "CELERY_QUEUE": QUEUE,
        "CACHE_KEY_PREFIX": QUEUE,
        "STATUSHUB_TRANSPORT_OVERRIDES": "1",  # the channels point at the local fakes
    }
    os.environ.update(env)
    for name in ("STATUSHUB_WEBSUB_HUB", "CELERY_BROKER_URL", "CACHE_REDIS_URL"):
        os.environ.pop(name, None)  # nothing of the caller's may leak into the run
    sys.path.insert(0, str(ROOT))
    return env


def prepare(url: str) -> None:
    """Create the database if missing, migrate and empty it (every run starts from the same state), and collect
    the static files."""
    create_database_if_missing(url)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    # As a deployment has it: pages rendered on the worker (e.g. after a publish) need the static manifest.
    call_command("collectstatic", interactive=False, verbosity=0)


# --- The worker ----------------------------------------------------------------------------------------------


@contextmanager
def bench_worker(concurrency: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    from statushub.celery import app

    app.control.purge()  # tasks a killed earlier run left in the queue
    with celery_worker(celery_worker_command("threads", concurrency), log, stop_timeout=20) as process:
        yield process


# --- The run -------------------------------------------------------------------------------------------------


@dataclass
class Leg:
    """One delivery of one publish, timed from the publish's commit (seconds)."""

    kind: str
    total: float  # commit → delivered_at
    to_wire: float  # commit → the first request reached the service
    on_wire: float  # first request in → last answer out
    after: float  # last answer out → delivered_at
    calls: int
    attempts: int


@dataclass
class Publish:
    n: int
    incident: str
    first: bool
    latency: float | None  # commit → the last delivery delivered; None if one did not get there
    legs: list[Leg]
    failed: list[str]


def _status_for(index: int, count: int) -> str:
    if index == 0:
        return "investigating"
    if index == count - 1:
        return "resolved"
    return "monitoring" if index == count - 2 else "identified"


@dataclass
class Seeded:
    publisher: Any  # User
    incidents: list[Any]  # Incident
    kind_of: dict[int, str]  # channel id → kind


def seed(*, incident_count: int, services: dict[str, tuple[Service, Any, Any]]) -> Seeded:
    """A publisher, one channel per fake service, and the crisis's incidents, as they are before it starts."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from channels.models import Channel
    from channels.services import channel_set_credentials
    from incidents.models import Incident
    from people import roles

    roles.sync_role_groups()
    publisher = User.objects.create_user(username="dana", first_name="Dana", last_name="Whitfield")
    publisher.groups.add(Group.objects.get(name=roles.PUBLISHER))
    kind_of = {}
    for kind, (_service, config, secrets) in services.items():
        channel = Channel.objects.create(kind=kind, name=f"bench {kind}", config=config)
        channel_set_credentials(channel=channel, credentials=secrets)
        kind_of[channel.pk] = kind
    started = timezone.now()
    incidents = [
        Incident.objects.create(title=title, severity=Incident.Severity.SEV1, detected_at=started, started_at=started)
        for title in INCIDENTS[:incident_count]
    ]  # fmt: skip
    return Seeded(publisher, incidents, kind_of)


def run(
    *, seeded: Seeded, publishes: int, gap: float, services: dict[str, tuple[Service, Any, Any]]
) -> list[Publish]:
    from django.db import transaction

    from channels.models import Delivery
    from incidents import services as incident_services

    incidents, publisher, kind_of = seeded.incidents, seeded.publisher, seeded.kind_of
    incident_count = len(incidents)
    per_incident = [len(range(i, publishes, incident_count)) for i in range(incident_count)]

    results = []
    committed: list[float] = []
    for n in range(publishes):
        incident, index = incidents[n % incident_count], n // incident_count
        with transaction.atomic():
            # Registered first, so it runs first after COMMIT: before the deliveries are queued.
            transaction.on_commit(lambda: committed.append(time.time()))
            update = incident_services.update_publish(
                incident=incident,
                author=publisher,
                status=_status_for(index, per_incident[n % incident_count]),
                body=f"Update {index + 1}. {BODY}",
                author_title="CEO",
            )
        t0 = committed[-1]
        deadline = time.monotonic() + 60
        while True:
            rows = list(
                Delivery.objects.filter(update=update).values_list(
                    "channel_id", "state", "delivered_at", "attempts"
                )
            )
            if not any(row[1] in Delivery.OPEN_STATES for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        end = time.time()
        legs, failed = [], []
        for channel_id, state, delivered_at, attempts in rows:
            kind = kind_of[channel_id]
            if state != Delivery.State.DELIVERED or delivered_at is None:
                failed.append(f"{kind}: {state}")
                continue
            done = delivered_at.timestamp()
            hits = services[kind][0].between(t0, end)
            first_in = min((h.arrived for h in hits), default=done)
            last_out = max((h.answered for h in hits), default=done)
            legs.append(
                Leg(kind, done - t0, first_in - t0, last_out - first_in, done - last_out, len(hits), attempts)
            )
        latency = max(leg.total for leg in legs) if legs and not failed else None
        results.append(Publish(n + 1, incident.title, index == 0, latency, legs, failed))
        shown = f"{latency * 1000:5.0f} ms" if latency is not None else "  FAILED " + ", ".join(failed)
        print(f"  publish {n + 1:2d}/{publishes} ({'new' if index == 0 else 'upd'}) {shown}", flush=True)
        time.sleep(gap)
    return results


# --- The report ----------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: with 50 values, p95 is the 48th smallest (two are above it)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def machine_facts(env: dict[str, str]) -> list[tuple[str, str]]:
    from django.db import connection

    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), cpu)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    import redis

    redis_version = redis.Redis.from_url(env["REDIS_URL"]).info("server").get("redis_version", "?")
    load = os.getloadavg()
    return [
        ("cores", f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable by this process); {cpu}"),
        (
            "load average",
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min, at the end; others share it)",
        ),
        ("python", f"{platform.python_version()} on {platform.platform()}"),
        ("postgresql", f"{postgres}, {env['DATABASE_URL']}"),
        ("redis", f"{redis_version}, {env['REDIS_URL']} (broker and cache)"),
    ]


def worker_tasks(log: Path) -> dict[str, tuple[int, int]]:
    """Task name → (times received, retries), from the worker's log: what else shared the pool."""
    found: dict[str, tuple[int, int]] = {}
    for match in re.finditer(r"Task ([\w.]+)\[[^\]]+\] (received|retry:)", log.read_text(errors="replace")):
        received, retries = found.get(match[1], (0, 0))
        found[match[1]] = (received + (match[2] == "received"), retries + (match[2] == "retry:"))
    return found


def report(
    results: list[Publish], *, command: str, worker: str, env: dict[str, str], gap: float, log: Path
) -> None:
    done = [r.latency for r in results if r.latency is not None]
    failed = [r for r in results if r.latency is None]
    legs = [leg for r in results for leg in r.legs]
    calls = {kind: max((leg.calls for leg in legs if leg.kind == kind), default=0) for kind in KINDS}
    floor = SERVICE_DELAY * max(calls.values(), default=1)

    print("\nFan-out latency: publish committed → last of 8 channels delivered")
    print(f"  {len(results)} publishes one after another ({len(INCIDENTS[: len({r.incident for r in results})])} incidents, "
          f"{sum(r.first for r in results)} first posts, {sum(not r.first for r in results)} replies), "
          f"{gap:.1f} s after each one settles")  # fmt: skip
    print(
        f"  8 channels, one of each kind: {', '.join(KINDS)}; each its own local fake answering in {ms(SERVICE_DELAY)}"
    )
    if not done:
        print("\nNo publish reached every channel: see the worker log.")
        return
    p50, p95, top = percentile(done, 50), percentile(done, 95), max(done)
    rows = [
        ("p50", ms(p50), f"{p50 / TARGET_P95:.2f}", f"{p50 / SERVICE_DELAY:.1f}x"),
        ("p95", ms(p95), f"{p95 / TARGET_P95:.2f}", f"{p95 / SERVICE_DELAY:.1f}x"),
        ("max", ms(top), f"{top / TARGET_P95:.2f}", f"{top / SERVICE_DELAY:.1f}x"),
        ("floor: one 200 ms answer", ms(SERVICE_DELAY), f"{SERVICE_DELAY / TARGET_P95:.2f}", "1.0x"),
        (f"floor: {max(calls.values())} answers in a row (slowest channel)", ms(floor), f"{floor / TARGET_P95:.2f}",
         f"{floor / SERVICE_DELAY:.1f}x"),
        ("target p95", ms(TARGET_P95), "1.00", f"{TARGET_P95 / SERVICE_DELAY:.1f}x"),
    ]  # fmt: skip
    width = max(len(row[0]) for row in rows)
    print(f"\n  {'':{width}}  {'latency':>8}  {'÷ target':>8}  {'÷ 200 ms':>8}")
    for name, value, to_target, to_floor in rows:
        print(f"  {name:{width}}  {value:>8}  {to_target:>8}  {to_floor:>8}")
    verdict = "PASS" if p95 <= TARGET_P95 else "MISS"
    print(
        f"\n  {verdict}: p95 {ms(p95)} against a target of ≤ {ms(TARGET_P95)} (ratio {p95 / TARGET_P95:.2f})"
    )
    if verdict == "MISS":
        print(f"  missed by {ms(p95 - TARGET_P95)} ({(p95 / TARGET_P95 - 1) * 100:.0f} % over)")
    if failed:
        print(f"  {len(failed)} publishes did not reach every channel: "
              + "; ".join(f"#{r.n} {', '.join(r.failed)}" for r in failed))  # fmt: skip

    print("\n  Where the time goes, per channel (p50 / p95 over its deliveries; from the commit):")
    print(f"  {'channel':10} {'calls':>5}  {'delivered':>15}  {'to the wire':>15}  {'on the wire':>15}  {'recorded after':>15}  {'last':>4}")  # fmt: skip
    slowest = [max(r.legs, key=lambda leg: leg.total).kind for r in results if r.legs]
    for kind in KINDS:
        mine = [leg for leg in legs if leg.kind == kind]
        if not mine:
            continue

        def pair(values: list[float]) -> str:
            return f"{ms(percentile(values, 50))} / {ms(percentile(values, 95))}"

        print(f"  {kind:10} {calls[kind]:>5}  {pair([leg.total for leg in mine]):>15}  "
              f"{pair([leg.to_wire for leg in mine]):>15}  {pair([leg.on_wire for leg in mine]):>15}  "
              f"{pair([leg.after for leg in mine]):>15}  {slowest.count(kind):>4}")  # fmt: skip
    print("  (calls: requests per delivery at most; last: how often that channel finished the fan-out)")
    critical = [max(r.legs, key=lambda leg: leg.total) for r in results if r.latency is not None]
    print(
        f"\n  Critical path (the channel that finished last), p50: {ms(percentile([c.to_wire for c in critical], 50))} "
        f"from the commit to its first request (queue, claim, load, build), {ms(percentile([c.on_wire for c in critical], 50))} "
        f"at the service, {ms(percentile([c.after for c in critical], 50))} to record it"
    )  # fmt: skip
    retried = [leg for leg in legs if leg.attempts > 1]
    if retried:
        print(f"  {len(retried)} deliveries needed more than one attempt: "
              + ", ".join(sorted({leg.kind for leg in retried})) + " (a retry waits for its backoff)")  # fmt: skip
    over = [r for r in results if r.latency is not None and r.latency > TARGET_P95]
    if over:
        print(f"  over {ms(TARGET_P95)}: " + "; ".join(
            f"#{r.n} {ms(r.latency or 0)} ({max(r.legs, key=lambda leg: leg.total).kind} last)" for r in over
        ))  # fmt: skip
    first = [r.latency for r in results if r.first and r.latency is not None]
    reply = [r.latency for r in results if not r.first and r.latency is not None]
    if first and reply:
        print(f"\n  first posts p50 {ms(percentile(first, 50))}, replies p50 {ms(percentile(reply, 50))}; "
              f"publish #1 (cold worker) {ms(results[0].latency or 0)}")  # fmt: skip

    tasks = worker_tasks(log)
    print("\n  Tasks the worker ran (received, of which retries): " + ", ".join(
        f"{name} {received}" + (f" ({retries} retries)" if retries else "")
        for name, (received, retries) in sorted(tasks.items(), key=lambda item: -item[1][0])
    ))  # fmt: skip

    print("\n  Machine")
    for name, value in machine_facts(env):
        print(f"    {name:13} {value}")
    print(f"    {'worker':13} {worker}")
    print(f"\n  Reproduce: {command}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--publishes", type=int, default=50)
    parser.add_argument("--incidents", type=int, default=len(INCIDENTS), choices=range(1, len(INCIDENTS) + 1))
    parser.add_argument("--concurrency", type=int, default=16, help="worker threads (README: 16)")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between one fan-out settling and the next publish")  # fmt: skip
    args = parser.parse_args()

    env = configure_environment()
    var_dir = Path(env["STATUSHUB_VAR_DIR"])
    var_dir.mkdir(parents=True, exist_ok=True)
    print(f"Preparing {env['DATABASE_URL']} …", flush=True)
    prepare(env["DATABASE_URL"])
    command = " ".join(["python", "bench/fanout.py", *sys.argv[1:]])
    log = var_dir / "worker.log"
    with fake_services(len(INCIDENTS)) as services:
        seeded = seed(incident_count=args.incidents, services=services)
        with bench_worker(args.concurrency, log):
            print(f"Worker up (log: {log}); publishing …", flush=True)
            results = run(seeded=seeded, publishes=args.publishes, gap=args.gap, services=services)
    worker = " ".join(["celery", *celery_worker_command("threads", args.concurrency)[3:]])
    report(results, command=command, worker=worker, env=env, gap=args.gap, log=log)


if __name__ == "__main__":
    main()
