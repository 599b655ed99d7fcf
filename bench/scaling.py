"""How the public pages' render cost scales with the size of the incident history. Run by hand, not by CI.

    .venv/bin/python bench/scaling.py                                  # 1k, 10k and 100k incidents (~10 min)
    .venv/bin/python bench/scaling.py --sizes 1000,10000 --runs 10     # a quick iteration

Target (issue): the same number of SQL queries at every size, and a render time at the largest size at most
1.2x the smallest's. Public pages are rendered once per change into the snapshot (``incidents/snapshot.py``)
by calling their views, so each URL is measured as the snapshot renders it: resolved and its view called with
a cookieless ``RequestFactory`` GET. No ``If-None-Match`` is sent, so no 304 hides the render.

It needs PostgreSQL and Redis (as ``scripts/test.sh`` does) and uses only its own: it drops and re-creates the
database ``bench_scale``, with one schema per size, uses Redis database 12 (a cache prefix of its own) and
``/tmp/bench-scale``. Override with ``BENCH_DATABASE_URL`` (the database name must start with ``bench``: it is
dropped), ``BENCH_REDIS_URL`` and ``BENCH_VAR_DIR``. SECRET_KEY and the key-encryption key are made per run.
``--keep`` keeps the database, to EXPLAIN a slow query: ``SET search_path TO size_100000``.

The data. Each size is a history of resolved incidents (8% of them completed maintenance), one every
``--every-minutes`` (with jitter), going back from eight hours ago: the newest part is identical at every size
and a larger history reaches further back, as a real site's does. Each has 2-5 updates signed into one hash
chain with the publishers' real keys, 1-3 affected components with their status changes, and an engineering
note; every component has an availability row per day since it began. Rows are bulk-inserted (no
simple-history rows). The same at every size: twelve components in four groups, two active incidents, a
maintenance in progress and one upcoming, published through ``services.update_publish``.

The measurement. All sizes are loaded first, then measured interleaved (URL by URL, the sizes' order
rotating each run), so load from other processes on the machine falls on every size alike and the ratios,
measured in one run on one machine, stay meaningful. Times are the median of ``--runs`` renders after
``--warmup``; queries are counted on one render (``CaptureQueriesContext``). For a URL that misses, it prints
the query whose median time grew most.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from _harness import ROOT, drop_database, recreate_database
from _scaling_data import Dataset, load, set_search_path, use_schema

TARGET_RATIO = 1.2
QUERY_RENDERS = 5  # untimed renders per URL and size with their queries logged

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_scale"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
DEFAULT_VAR_DIR = "/tmp/bench-scale"  # noqa: S108  (the bench's own scratch directory)


def _configure_environment() -> str:
    """Point Django at the bench's own resources; returns the database URL (which this script drops)."""
    from cryptography.fernet import Fernet

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = urlsplit(database_url).path.lstrip("/")
    if not name.startswith("bench"):
        sys.exit(f"Refusing to drop database {name!r}: BENCH_DATABASE_URL must name a database called bench*")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="statushub.settings",
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        CACHE_KEY_PREFIX="bench-scale",
        STATUSHUB_VAR_DIR=os.environ.get("BENCH_VAR_DIR", DEFAULT_VAR_DIR),
        STATUSHUB_SITE_URL="https://status.example.com",
        STATUSHUB_WEBSUB_HUB="",
        # Publishing queues Celery tasks (availability, snapshot refresh, fan-out): kept in memory, never run.
        CELERY_BROKER_URL="memory://localhost/",
        SECRET_KEY=Fernet.generate_key().decode(),
        STATUSHUB_KEY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    return database_url


# --- Measuring ----------------------------------------------------------------------------------------------


@dataclass
class Sample:
    queries: list[tuple[str, float]]  # (sql, median seconds) of one render
    times: list[float] = field(default_factory=list)


def render(path: str) -> int:
    """Render ``path`` as the snapshot does: resolve it and call its view with a cookieless GET."""
    from django.test import RequestFactory
    from django.urls import resolve

    match = resolve(path)
    response = match.func(RequestFactory().get(path), *match.args, **match.kwargs)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code}")
    return len(response.content)


def _logged_queries(path: str) -> list[tuple[str, float]]:
    """The queries of one render, each with its median time over a few renders (Django logs milliseconds)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    renders = []
    for _ in range(QUERY_RENDERS):
        with CaptureQueriesContext(connection) as ctx:
            render(path)
        renders.append([(q["sql"], float(q["time"])) for q in ctx.captured_queries])
    first = renders[0]
    return [
        (sql, statistics.median(r[i][1] for r in renders if len(r) > i)) for i, (sql, _) in enumerate(first)
    ]


def measure(datasets: list[Dataset], *, runs: int, warmup: int) -> dict[str, dict[int, Sample]]:
    samples: dict[str, dict[int, Sample]] = {label: {} for label in datasets[0].paths}
    for dataset in datasets:
        use_schema(dataset.schema)
        for label, path in dataset.paths.items():
            for _ in range(warmup):
                render(path)
            samples[label][dataset.size] = Sample(_logged_queries(path))
    for run in range(runs):
        order = datasets[run % len(datasets) :] + datasets[: run % len(datasets)]
        for label, by_size in samples.items():
            for dataset in order:
                use_schema(dataset.schema)
                started = time.perf_counter()
                render(dataset.paths[label])
                by_size[dataset.size].times.append(time.perf_counter() - started)
    return samples


# --- Report -------------------------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _span(days: float) -> str:
    return f"{days / 365.25:.1f} years" if days > 365 else f"{days:.0f} days"


def _why(first: Sample, last: Sample) -> list[str]:
    if len(first.queries) != len(last.queries):
        return ["  queries at the largest size:", *(f"  {sql[:160]}" for sql, _ in last.queries)]
    grew = max(range(len(last.queries)), key=lambda i: last.queries[i][1] - first.queries[i][1])
    (sql, after), before = last.queries[grew], first.queries[grew][1]
    if after - before < 0.002:
        total = [sum(t for _, t in sample.queries) * 1000 for sample in (first, last)]
        return [
            f"  no query grew by 2 ms or more (all SQL {total[0]:.0f} -> {total[1]:.0f} ms): the difference "
            "is in Python or is machine noise; run again, or with more --runs"
        ]
    return [
        f"  the query whose time grew most ({before * 1000:.0f} -> {after * 1000:.0f} ms), to EXPLAIN:",
        f"  {sql}",
    ]


def report(
    datasets: list[Dataset], samples: dict[str, dict[int, Sample]], *, command: str, runs: int
) -> bool:
    from django.db import connection

    sizes = [d.size for d in datasets]
    names = " / ".join(map(_size, sizes))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    print()
    print("Public render cost against the size of the history (bench/scaling.py)")
    print(f"  command:  {command}")
    print(
        f"  machine:  {os.cpu_count()} cores (1-min load average {os.getloadavg()[0]:.2f} at the end), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, PostgreSQL {postgres}"
    )
    for d in datasets:
        print(
            f"  history:  {_size(d.size)} incidents, {d.updates:,} signed updates, over {_span(d.span_days)}"
        )
    print(
        f"  measured: median of {runs} renders per URL and size (sizes interleaved), queries of one render. "
        f"Target: equal queries, time {_size(sizes[-1])}/{_size(sizes[0])} <= {TARGET_RATIO}"
    )
    print()
    q_head, t_head = f"queries {names}", f"median ms {names}"
    q_width, t_width = len(q_head) + 2, max(len(t_head), 7 * len(sizes)) + 2
    head = f"{'URL':<16} {'path (at ' + _size(sizes[-1]) + ')':<36} {q_head:<{q_width}}{t_head:<{t_width}}"
    head += f"{'q x':>5} {'t x':>5}  verdict"
    print(head)
    print("-" * len(head))
    misses = []
    for label, by_size in samples.items():
        counts = [len(by_size[n].queries) for n in sizes]
        medians = [statistics.median(by_size[n].times) * 1000 for n in sizes]
        q_ratio, t_ratio = counts[-1] / max(counts[0], 1), medians[-1] / medians[0]
        ok = len(set(counts)) == 1 and t_ratio <= TARGET_RATIO
        print(
            f"{label:<16} {datasets[-1].paths[label]:<36} {' / '.join(map(str, counts)):<{q_width}}"
            f"{' / '.join(f'{m:.1f}' for m in medians):<{t_width}}{q_ratio:>5.2f} {t_ratio:>5.2f}  "
            + ("PASS" if ok else "MISS")
        )
        if not ok:
            misses.append((label, counts, t_ratio, by_size[sizes[0]], by_size[sizes[-1]]))
    print()
    print(f"{len(samples) - len(misses)} of {len(samples)} URLs meet the target.")
    for label, counts, t_ratio, first, last in misses:
        print(
            f"\nMISS {label}: queries {' -> '.join(map(str, counts))}; time x{t_ratio:.2f}, "
            f"{(t_ratio / TARGET_RATIO - 1) * 100:.0f}% over x{TARGET_RATIO}"
        )
        print("\n".join(_why(first, last)))
    return not misses


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="history sizes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=40, help="timed renders per URL and size (default: 40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed renders first (default: 3)")
    parser.add_argument("--every-minutes", type=int, default=120, help="history density (default: 120)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards, to EXPLAIN")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    command = " ".join(["python bench/scaling.py", *sys.argv[1:]])

    database_url = _configure_environment()
    recreate_database(database_url)
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created
    from django.utils import timezone

    connection_created.connect(set_search_path)
    cache.clear()
    call_command("collectstatic", interactive=False, verbosity=0)  # the manifest {% static %} reads
    now = timezone.now().replace(microsecond=0)
    datasets = []
    for size in sizes:
        started = time.perf_counter()
        datasets.append(load(size, now=now, every=timedelta(minutes=args.every_minutes)))
        print(f"==> loaded {_size(size)} incidents in {time.perf_counter() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would have, long before a history got this long
    print(f"==> measuring {len(datasets[0].paths)} URLs x {len(sizes)} sizes x {args.runs} runs", flush=True)
    samples = measure(datasets, runs=args.runs, warmup=args.warmup)
    met = report(datasets, samples, command=command, runs=args.runs)
    connection.close()
    cache.clear()
    if not args.keep:
        drop_database(database_url)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
