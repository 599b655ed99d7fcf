"""The chaos run: publish many updates to seven channels while the world misbehaves, then count.

Real processes throughout: Celery workers (thread pool, as production), a beat process (the delivery sweeper
every 10 s), the app server (granian) serving the public page, and a broker Redis of the run's own (a
``redis-server`` on a free port, never the shared one) that is killed and restarted with its queue lost. The
channel services are ``tests/chaos/fakes.py``, failing ``fault_rate`` of all requests. Workers are SIGKILLed
while deliveries are in flight and started again (as a supervisor would); the workers' database connections
are terminated (``pg_terminate_backend``). A reader polls the public page all along.
"""

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import override_settings

from channels import services as channel_services
from channels.models import Channel, Delivery
from incidents import services as incident_services
from incidents.models import Incident, IncidentUpdate
from statushub.celery import app as celery_app
from statushub.lib.after_commit import watching_follow_up
from tests.chaos.fakes import ChaosServices, chaos_services
from tests.chaos.plan import Plan
from tests.conftest import collect_static_for_subprocesses, free_port

ROOT = Path(__file__).resolve().parents[2]
# Channels whose service lets a lost answer be looked up, so a duplicate post is a bug (the webhook cannot: a
# receiver sees the same ``webhook-id`` again and is expected to drop it).
LOOKUP = ("slack", "mastodon", "bluesky", "x", "facebook", "discourse")


@dataclass
class Row:
    channel: str
    updates: int = 0
    delivered: int = 0
    dead: int = 0
    dead_reasons: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    dead_but_posted: int = 0
    duplicates: int = 0
    settle: float | None = None
    tasks_mean: float = 0.0
    tasks_max: int = 0


@dataclass
class Result:
    plan: Plan
    rows: list[Row]
    polls: int
    non_200: int
    publish_errors: int
    delayed_notices: int
    faults: dict[str, int]
    requests: int
    kills: int
    broker_restarts: int
    db_drops: int
    settled: bool
    elapsed: float

    def table(self) -> str:
        head = ("channel", "updates", "delivered", "dead", "lost", "dead-but-posted", "duplicates", "settle s",
                "tasks/delivery (max)")  # fmt: skip
        lines = [" | ".join(head), " | ".join("---" for _ in head)]
        for r in self.rows:
            dead = f"{r.dead}" + (f" ({'; '.join(f'{n} x {why[:60]}' for why, n in r.dead_reasons.items())})"
                                  if r.dead else "")  # fmt: skip
            settle = "—" if r.settle is None else f"{r.settle:.0f}"
            lines.append(" | ".join(str(x) for x in (
                r.channel, r.updates, r.delivered, dead, r.lost, r.dead_but_posted, r.duplicates, settle,
                f"{r.tasks_mean:.2f} ({r.tasks_max})")))  # fmt: skip
        faults = ", ".join(f"{kind} {n}" for kind, n in self.faults.items())
        lines += [
            "",
            f"{self.plan.updates} updates over {self.plan.incidents} incidents; {self.requests} requests to the "
            f"fakes, {sum(self.faults.values())} faulted ({faults}); {self.kills} worker SIGKILLs, "
            f"{self.broker_restarts} broker Redis restarts, {self.db_drops} dropped worker DB connection sets.",
            f"Public page: {self.polls} polls, {self.non_200} not 200. Publishes that raised: "
            f"{self.publish_errors}; told 'follow-up delayed': {self.delayed_notices}. "
            f"{'Settled' if self.settled else 'NOT settled'}; run took {self.elapsed:.0f} s.",
        ]
        return "\n".join(lines)


class RedisServer:
    """A broker Redis of the run's own, without persistence: a restart loses every queued message."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


class Processes:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.workdir / log).open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=ROOT)  # fmt: skip

    def worker(self) -> subprocess.Popen[bytes]:
        self.started += 1
        process = self._spawn(
            ["celery", "-A", "statushub", "worker", "--pool=threads", "--concurrency=8", "--loglevel=INFO",
             "-n", f"chaos{self.started}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            f"worker{self.started}.log", self.env,
        )  # fmt: skip
        self.workers.append(process)
        return process

    def beat(self) -> None:
        self.others.append(self._spawn(
            ["celery", "-A", "statushub", "beat", "--loglevel=INFO", "-s", str(self.workdir / "beat-schedule")],
            "beat.log", self.env,
        ))  # fmt: skip

    def web(self, port: int) -> None:
        env = {**self.env, "DATABASE_URL": self.env["DATABASE_URL"].replace("chaos-worker", "chaos-web")}
        self.others.append(self._spawn(
            ["granian", "--interface", "wsgi", "--workers", "1", "--blocking-threads", "4", "--host", "127.0.0.1",
             "--port", str(port), "statushub.wsgi:application"],
            "web.log", env,
        ))  # fmt: skip

    def kill_a_worker(self, rng: random.Random) -> None:
        alive = [p for p in self.workers if p.poll() is None]
        if alive:
            victim = rng.choice(alive)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        self.worker()  # as the supervisor (deploy/) would

    def stop(self) -> None:
        for process in [*self.workers, *self.others]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *self.others]:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def broker_and_cache_at(url: str) -> Iterator[None]:
    """This process (the publisher) uses the run's Redis for the broker and the cache, like the others."""

    def use(broker: str) -> None:
        celery_app.conf["broker_url"] = broker
        celery_app._pool = None  # type: ignore[attr-defined]
        celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]

    saved = celery_app.conf.broker_url
    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": url}}):
        use(url)
        try:
            yield
        finally:
            use(saved)


class Poller(threading.Thread):
    """A reader with the page open: polls the page and its live region, as the page's script does."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.polls, self.non_200, self.stopping = base, 0, 0, threading.Event()
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stopping.is_set():
                for path in ("/", "/_live/"):
                    try:
                        status = client.get(self.base + path).status_code
                    except httpx.HTTPError as exc:
                        status, reason = 0, repr(exc)
                    else:
                        reason = f"HTTP {status}"
                    self.polls += 1
                    if status != 200:
                        self.non_200 += 1
                        self.failures.append(f"{path}: {reason}")
                self.stopping.wait(0.25)


def _channels(base: str) -> None:
    specs = {
        "webhook": ("webhook", {"url": f"{base}/webhook"}, {"secret": "whsec_" + "QUJD" * 8}),
        "slack": ("slack", {"channel": "C0STATUS", "base_url": f"{base}/slack/api/"}, {"token": "xoxb-good"}),
        "mastodon": ("mastodon", {"instance": f"{base}/mastodon"}, {"access_token": "masto-token"}),
        "bluesky": ("bluesky", {"handle": "northwind.example", "service": f"{base}/bsky"},
                    {"app_password": "abcd-efgh"}),
        "x": ("x", {"username": "northwind", "user_id": "42", "api_base": f"{base}/x"},
              {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at", "access_token_secret": "ats"}),
        "facebook": ("facebook", {"page_id": "northwindpage", "api_base": f"{base}/fb"},
                     {"page_access_token": "page-token"}),
        "discourse": ("discourse", {"forum_url": f"{base}/discourse", "category_id": 4, "api_username": "system"},
                      {"api_key": "discourse-key"}),
    }  # fmt: skip
    for name, (kind, config, secrets) in specs.items():
        channel = Channel.objects.create(kind=kind, name=name, config=config)
        channel_services.channel_set_credentials(channel=channel, credentials=secrets)


def _drop_worker_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'chaos-worker'"
        )
        return int(cursor.fetchone()[0])


def _count(plan: Plan, fake: ChaosServices, updates: list[IncidentUpdate], last_publish: float) -> list[Row]:
    rows = []
    updates = list(IncidentUpdate.objects.all())  # with each incident's first, published as it opened
    ids = {u.pk: u.public_id for u in updates}
    for channel in Channel.objects.order_by("pk"):
        posts = fake.of(channel.name)
        posted: dict[str, int] = {}
        for post in posts:
            posted[post.update] = posted.get(post.update, 0) + 1
        row = Row(channel.name, updates=len(updates))
        tasks = []
        for delivery in Delivery.objects.filter(channel=channel):
            tasks.append(delivery.tasks)
            public_id = ids[delivery.update_id or 0]
            if delivery.state == Delivery.State.DELIVERED:
                row.delivered += 1
                at = delivery.delivered_at.timestamp() if delivery.delivered_at else 0.0
                row.settle = max(row.settle or 0.0, at - last_publish)
            elif delivery.state == Delivery.State.DEAD:
                row.dead += 1
                row.dead_reasons[delivery.last_error] = row.dead_reasons.get(delivery.last_error, 0) + 1
                if posted.get(public_id):
                    row.dead_but_posted += 1
                else:
                    row.lost += 1  # only transient faults were injected: a dead delivery is a loss
            else:
                row.lost += 1  # never settled
        row.duplicates = sum(n - 1 for n in posted.values() if n > 1)
        row.tasks_mean = sum(tasks) / len(tasks) if tasks else 0.0
        row.tasks_max = max(tasks, default=0)
        rows.append(row)
    return rows


def _dump(path: Path, last_publish: float) -> None:
    """Every delivery, for looking into a slow or lost one (times in seconds from the last publish)."""
    lines = [
        "channel\tupdate\tincident\tstate\tattempts\ttasks\tcreated\tdelivered\tnext_attempt\tlast_error"
    ]
    for d in Delivery.objects.select_related("channel", "update").order_by("channel_id", "update_id"):
        delivered = f"{d.delivered_at.timestamp() - last_publish:.1f}" if d.delivered_at else ""
        due = f"{d.next_attempt_at.timestamp() - last_publish:.1f}" if d.next_attempt_at else ""
        lines.append("\t".join(str(x) for x in (
            d.channel.name, d.update_id, d.update.incident_id if d.update else "", d.state, d.attempts, d.tasks,
            f"{d.created_at.timestamp() - last_publish:.1f}", delivered, due, d.last_error[:80])))  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def run(plan: Plan, *, workdir: Path, author: User, make_incident: Callable[..., Incident]) -> Result:
    started = time.monotonic()
    rng = random.Random(plan.seed)
    collect_static_for_subprocesses()
    broker = RedisServer(workdir)
    broker.start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        "?application_name=chaos-worker",
        "REDIS_URL": broker.url,
        "CELERY_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        "CACHE_KEY_PREFIX": str(settings.CACHES["default"]["KEY_PREFIX"]),
        "STATUSHUB_SNAPSHOT_PREFIX": settings.STATUSHUB_SNAPSHOT_PREFIX,
        "STATUSHUB_SNAPSHOT_DIR": str(settings.STATUSHUB_SNAPSHOT_DIR),
        "STATUSHUB_DELIVERY_BACKOFF_SECONDS": str(plan.backoff_seconds),
        "STATUSHUB_TRANSPORT_OVERRIDES": "true",
        # The fake services listen on loopback, which the private-network guard refuses outside the demo.
        "STATUSHUB_OUTBOUND_ALLOW_NETWORKS": ",".join(settings.STATUSHUB_OUTBOUND_ALLOW_NETWORKS),
    }
    env.pop("CELERY_BROKER_URL", None)
    env.pop("CACHE_REDIS_URL", None)
    processes = Processes(workdir, env)
    events = {"kills": 0, "broker_restarts": 0, "db_drops": 0}
    publish_errors = delayed_notices = 0
    with ExitStack() as stack:
        stack.callback(broker.kill)
        stack.callback(processes.stop)
        stack.enter_context(broker_and_cache_at(broker.url))
        fake = stack.enter_context(chaos_services(fault_rate=plan.fault_rate, seed=plan.seed))
        _channels(fake.base)
        incidents = [make_incident(f"Chaos incident {n}", public=True) for n in range(plan.incidents)]
        for _ in range(plan.workers):
            processes.worker()
        processes.beat()
        web_port = free_port()
        processes.web(web_port)
        base = f"http://127.0.0.1:{web_port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (workdir / "web.log").read_text()[-2000:]
            time.sleep(0.2)
        poller = Poller(base)
        poller.start()

        # The faults happen at random points of the publishing period, each mid-flight.
        def at() -> float:
            return rng.uniform(0.1, 0.8) * plan.updates

        moments = sorted(
            [(at(), "kill") for _ in range(plan.kills)]
            + [(at(), "restart") for _ in range(plan.broker_restarts)]
            + [(at(), "drop") for _ in range(plan.db_drops)]
        )
        updates: list[IncidentUpdate] = []
        statuses = ("investigating", "identified", "monitoring")
        pause = plan.publish_seconds / max(1, plan.updates)
        for n in range(plan.updates):
            while moments and moments[0][0] <= n:
                _, what = moments.pop(0)
                if what == "kill":
                    # Mid-delivery: wait (briefly) until some delivery is being sent.
                    until = time.monotonic() + 5
                    while not Delivery.objects.filter(state="sending").exists() and time.monotonic() < until:
                        time.sleep(0.05)
                    processes.kill_a_worker(rng)
                    events["kills"] += 1
                elif what == "restart":
                    broker.kill()
                    time.sleep(1.0)  # publishes in this second find Redis down
                    try:
                        incident = incidents[n % len(incidents)]
                        with watching_follow_up() as delayed:
                            updates.append(incident_services.update_publish(
                                incident=incident, author=author, status=statuses[n % 3],
                                body=f"Update {n} of the chaos run, while Redis is down.",
                            ))  # fmt: skip
                        delayed_notices += bool(delayed)
                    except Exception:
                        publish_errors += 1
                    broker.start()
                    events["broker_restarts"] += 1
                else:
                    _drop_worker_connections()
                    events["db_drops"] += 1
            try:
                with watching_follow_up() as delayed:
                    updates.append(incident_services.update_publish(
                        incident=incidents[n % len(incidents)], author=author, status=statuses[n % 3],
                        body=f"Update {n} of the chaos run: card payments fail for some customers.",
                    ))  # fmt: skip
                delayed_notices += bool(delayed)
            except Exception:
                publish_errors += 1
            time.sleep(pause)
        last_publish = time.time()
        plan.updates = IncidentUpdate.objects.count()

        open_rows = Delivery.objects.filter(state__in=Delivery.OPEN_STATES)
        limit = time.monotonic() + plan.settle_limit + 30
        while open_rows.exists() and time.monotonic() < limit:
            time.sleep(0.5)
        settled = not open_rows.exists()
        poller.stopping.set()
        poller.join()
        rows = _count(plan, fake, updates, last_publish)
        result = Result(
            plan=plan, rows=rows, polls=poller.polls, non_200=poller.non_200, publish_errors=publish_errors,
            delayed_notices=delayed_notices, faults=dict(fake.faults), requests=fake.requests,
            kills=events["kills"], broker_restarts=events["broker_restarts"], db_drops=events["db_drops"],
            settled=settled, elapsed=time.monotonic() - started,
        )  # fmt: skip
        _dump(workdir / "deliveries.tsv", last_publish)
        (workdir / "table.md").write_text(
            result.table() + "\n\nPoll failures: " + "; ".join(poller.failures[:20])
        )
    return result
