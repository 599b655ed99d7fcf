"""Listening at scale: ingest and score 100,000 mentions on one worker, and the inbox with 1,000,000 stored.
Run by hand, not by CI.

    .venv/bin/python bench/listening.py                      # 100k ingested, then the inbox at 1M (~3 min)
    .venv/bin/python bench/listening.py --ingest 20000 --stored 200000

Targets (issue 14): ingest and score 100,000 mentions in at most 60 s on one worker process; the inbox page under
100 ms with 1,000,000 mentions stored, with the same number of queries as with a few.

Ingest goes through ``mentions.services.ingest`` exactly as a listener's poll does (dedupe against what is
stored, VADER and the cue rules, the author's mentions today, the incident suggestion, bulk insert), fed with
posts made from a pool of realistic texts, authors and services, in batches of 1,000 as the pollers hand them
over. The inbox is measured as a communicator's GET of ``/manage/mentions/`` through Django's test client (median
of ``--runs`` after a warm-up); the million rows are added with one INSERT … SELECT from generate_series.

Its own database ``bench_mentions`` (dropped and re-created; override with ``BENCH_DATABASE_URL``, whose name must
start with ``bench``), Redis database 12 and ``/tmp/bench-mentions``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from urllib.parse import urlsplit

from _harness import ROOT, drop_database, recreate_database

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_mentions"
INGEST_TARGET_S = 60.0
INBOX_TARGET_MS = 100.0

TEXTS = [
    "Is {brand} checkout down for anyone else?",
    "{brand} checkout DOWN again. Third time this month. I'm going to blog about this.",
    "I was double-billed by {brand} and want a refund, or I'm calling my lawyer.",
    "Thanks {brand}, all working again on my side!",
    "{brand} dashboard slow to load today, anyone?",
    "Cancelling {brand} if this keeps happening. Nobody answers support.",
    "Free followers! DM me for a crypto giveaway",
    "Our payments with {brand} failed twice this morning, card is fine.",
    "Love the new {brand} invoices page.",
    "A journalist asked me about the {brand} outage, is there a statement?",
]
SERVICES = ["mastodon", "bluesky", "reddit", "rss", "x"]


def _configure_environment() -> None:
    from cryptography.fernet import Fernet

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    if not urlsplit(database_url).path.lstrip("/").startswith("bench"):
        sys.exit("Refusing to drop that database: BENCH_DATABASE_URL must name a database called bench*")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="statushub.settings", DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"), CACHE_KEY_PREFIX="bench-mentions",
        STATUSHUB_VAR_DIR=os.environ.get("BENCH_VAR_DIR", "/tmp/bench-mentions"),  # noqa: S108
        STATUSHUB_SITE_URL="https://status.example.com", CELERY_BROKER_URL="memory://localhost/",
        SECRET_KEY=Fernet.generate_key().decode(), STATUSHUB_KEY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING", ALLOWED_HOSTS="testserver",
    )  # fmt: skip
    sys.path.insert(0, str(ROOT))


def _posts(n: int, seed: int = 14) -> list:
    from datetime import timedelta

    from django.utils import timezone

    from mentions.services import Incoming

    rng = random.Random(seed)  # noqa: S311  (made-up posts, not secrets)
    now = timezone.now()
    posts = []
    for i in range(n):
        text = rng.choice(TEXTS).format(brand=rng.choice(["Northwind", "@northwind", "northwind cloud"]))
        posts.append(
            Incoming(
                service=rng.choice(SERVICES),
                remote_id=f"bench-{i}",
                text=f"{text} #{i % 97}",
                posted_at=now - timedelta(seconds=rng.randint(0, 86_400)),
                author_handle=f"user{rng.randint(0, n // 3)}@example.social",
                followers=rng.choice([None, 40, 800, 12_000, 250_000]),
            )
        )
    return posts


def measure_ingest(n: int) -> float:
    from mentions import services
    from mentions.models import Mention

    posts = _posts(n)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        services.ingest(posts[start : start + 1000])
    elapsed = time.perf_counter() - started
    stored = Mention.objects.count()
    assert stored == n, f"stored {stored} of {n}"
    return elapsed


def fill(total: int) -> None:
    from django.db import connection

    from mentions.models import Mention

    have = Mention.objects.count()
    if have >= total:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO mentions_mention (service, remote_id, url, text, author_handle, author_name, author_id,
                followers, posted_at, received_at, found_by, in_reply_to, sentiment, cues, priority,
                priority_reasons, set_aside_reason, state, suggestion_reason)
            SELECT 'mastodon', 'fill-' || g, '', 'checkout down again ' || g, 'filler' || (g %% 50000), '', '',
                (g %% 5000), now() - (g || ' seconds')::interval, now(), '', '', -0.4, '[]'::jsonb, g %% 100,
                '["negative"]'::jsonb, '', CASE WHEN g %% 3 = 0 THEN 'done' ELSE 'new' END, ''
            FROM generate_series(1, %s) AS g
            """,
            [total - have],
        )
        cursor.execute("ANALYZE mentions_mention")


def measure_inbox(runs: int) -> tuple[float, int]:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from people import roles

    roles.sync_role_groups()
    user, _ = User.objects.get_or_create(username="bench-lee", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=roles.COMMUNICATOR))
    client = Client()
    client.force_login(user)
    for _ in range(3):
        response = client.get("/manage/mentions/", secure=True)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get("/manage/mentions/", secure=True)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get("/manage/mentions/", secure=True)
    return statistics.median(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ingest", type=int, default=100_000)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    _configure_environment()
    database_url = os.environ["DATABASE_URL"]
    recreate_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages name hashed static files
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    ingest_s = measure_ingest(args.ingest)
    from django.db import connection

    with connection.cursor() as cursor:  # as autovacuum does after so many inserts: fresh planner statistics
        cursor.execute("ANALYZE mentions_mention")
    small_ms, small_queries = measure_inbox(args.runs)
    fill(args.stored)
    big_ms, big_queries = measure_inbox(args.runs)
    rate = args.ingest / ingest_s
    rows = [
        (f"ingest + score {args.ingest:,} mentions", f"{ingest_s:.1f} s ({rate:,.0f}/s)", f"≤ {INGEST_TARGET_S:.0f} s",
         ingest_s * 100_000 / args.ingest <= INGEST_TARGET_S),
        (f"inbox with {args.ingest:,} stored", f"{small_ms:.1f} ms, {small_queries} queries", "", True),
        (f"inbox with {args.stored:,} stored", f"{big_ms:.1f} ms, {big_queries} queries",
         f"≤ {INBOX_TARGET_MS:.0f} ms, same queries", big_ms <= INBOX_TARGET_MS and big_queries == small_queries),
    ]  # fmt: skip
    print(f"{'row':<36} {'measured':<28} {'target':<26} result")
    for name, measured, target, ok in rows:
        print(f"{name:<36} {measured:<28} {target:<26} {'PASS' if ok else 'FAIL'}")
    drop_database(database_url)


if __name__ == "__main__":
    main()
