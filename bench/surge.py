"""Surge: the app's own snapshot serving against nginx serving the exported files of the same bytes.

    python bench/surge.py [--duration 10] [--connections 256]
    python bench/surge.py --pages 1000 --poll 15 2 [--duration 20]

Seeds the demo crisis into its own PostgreSQL database, builds the snapshot (in Redis, as several web nodes
share it), exports it, then loads each server in turn with wrk at 256 connections: nginx with the shipped
config (deploy/nginx/statushub-static.conf), the app under granian (the production choice) and, for the
record of why, under gunicorn. Plain GETs and conditional GETs (If-None-Match → 304) of the front page and
of the Statuspage API's summary.json. Prints req/s, p99, errors, and the app/nginx ratio against the target:
at least 30% of nginx's req/s with p99 ≤ 50 ms and no errors.

Run by hand, on an otherwise idle machine; it needs nginx and wrk (apt-get install nginx-light wrk).

With ``--pages N``: the cost of open pages instead. N pages (one keep-alive connection each, at random phases)
poll the app's ``/_live/?v=<tag>`` every ``--poll`` seconds for ``--duration`` seconds, as open browsers do while
nothing changes, for each poll interval given; prints polls/s, the answers, p50/p99 and the CPU the app's
processes used (in cores), so a shorter poll's cost is a measured number. Needs neither nginx nor wrk.
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_surge")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
URLS = ("/", "/api/v2/summary.json")
TARGET_RATIO, TARGET_P99_MS = 0.30, 50.0


@dataclass
class Load:
    server: str
    url: str
    conditional: bool
    rps: float
    p99_ms: float
    errors: int
    statuses: str


def environment(var_dir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "statushub.settings",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-only-secret-key",
        "STATUSHUB_KEY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "STATUSHUB_VAR_DIR": str(var_dir),
        "STATUSHUB_SITE_NAME": "Northwind Cloud",
        "STATUSHUB_SITE_URL": "http://localhost:8000",
        "SESSION_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def prepare(env: dict[str, str], export_dir: Path | None) -> None:
    import psycopg

    admin_url, _, name = DATABASE_URL.rpartition("/")
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    manage = [sys.executable, "manage.py"]
    run([*manage, "migrate", "--noinput", "-v0"], env)
    run([*manage, "collectstatic", "--noinput", "-v0"], env)
    run([*manage, "seed_demo"], env)
    run([*manage, "snapshot", "--rebuild", "--no-progress"], env)
    if export_dir is not None:
        run([*manage, "export", str(export_dir), "--no-progress"], env)


def start(command: list[str], env: dict[str, str], url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"{command[0]} did not start:\n{log.read_text()}")
        time.sleep(0.2)


def nginx_config(work: Path, export_dir: Path, port: int) -> Path:
    server = (ROOT / "deploy" / "nginx" / "statushub-static.conf").read_text()
    server = (
        server.replace("listen 8080;", f"listen 127.0.0.1:{port} backlog=4096;")
        .replace("/srv/statushub/site", str(export_dir))
        .replace("https://status.example.com", "http://localhost:8000")
    )
    config = work / "nginx.conf"
    config.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes auto;\nerror_log {work}/nginx-error.log;\npid {work}/nginx.pid;\n"
        + "events { worker_connections 4096; }\n"
        + f"http {{\n access_log off;\n client_body_temp_path {work}/body;\n proxy_temp_path {work}/proxy;\n"
        + f" fastcgi_temp_path {work}/fcgi;\n uwsgi_temp_path {work}/uwsgi;\n scgi_temp_path {work}/scgi;\n"
        + f" sendfile on;\n tcp_nopush on;\n keepalive_requests 100000;\n{server}\n}}\n"
    )
    return config


def wrk(url: str, *, connections: int, duration: int, etag: str | None) -> tuple[float, float, int, str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if etag:
        command += ["-H", f"If-None-Match: {etag}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in found.groups())
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    return rps, p99, errors, out


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far, from /proc."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo += children.get(pid, [])
    return total


@dataclass
class Polling:
    pages: int
    poll: float
    polls_per_s: float
    answers: dict[int, int]
    p50_ms: float
    p99_ms: float
    cores: float


async def _get(reader: "asyncio.StreamReader", writer: "asyncio.StreamWriter", request: bytes) -> int:
    """One GET on a kept-alive connection; returns the status (the body, if any, is read and dropped)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if length:
        await reader.readexactly(int(length.group(1)))
    return status


async def _poll_pages(base: str, *, pages: int, poll: float, duration: float, server_pid: int) -> Polling:
    # A bare HTTP/1.1 client: a thousand pages' polls must cost the load generator little, or it measures itself.
    import random

    front = httpx.get(base + "/").text
    tag = re.search(r'hx-get="/_live/\?v=([0-9a-f]+)"', front)
    if tag is None:
        raise SystemExit("the front page names no live region to poll")
    host, port = base.removeprefix("http://").split(":")
    request = f"GET /_live/?v={tag.group(1)} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: */*\r\n\r\n".encode()
    latencies: list[float] = []
    answers: dict[int, int] = {}
    stop = time.monotonic() + duration

    async def page() -> None:
        await asyncio.sleep(random.uniform(0, min(poll, duration)))  # noqa: S311 (pages open at random moments)
        connection = None
        while time.monotonic() < stop:
            began = time.monotonic()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, int(port))
                status = await _get(*connection, request)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status, connection = 0, None
            latencies.append(time.monotonic() - began)
            answers[status] = answers.get(status, 0) + 1
            await asyncio.sleep(max(0.0, min(poll - (time.monotonic() - began), stop - time.monotonic())))
        if connection is not None:
            connection[1].close()

    cpu_before, wall_before = _cpu_seconds(server_pid), time.monotonic()
    await asyncio.gather(*(page() for _ in range(pages)))
    cpu_after, wall_after = _cpu_seconds(server_pid), time.monotonic()
    latencies.sort()
    return Polling(
        pages=pages,
        poll=poll,
        polls_per_s=len(latencies) / (wall_after - wall_before),
        answers=answers,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        cores=(cpu_after - cpu_before) / (wall_after - wall_before),
    )


def open_pages(options: argparse.Namespace) -> int:
    """The cost of N open pages polling at each interval: what a shorter poll costs the app."""
    work = Path(tempfile.mkdtemp(prefix="statushub-surge-"))
    env = environment(work / "var")
    print(f"Preparing the demo site and its snapshot in {work} ...", flush=True)
    prepare(env, None)
    port = 8934
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(options.workers),
        "--blocking-threads", "8", "--backlog", "4096", "--host", "127.0.0.1", "--port", str(port),
        "--no-access-log", "statushub.wsgi:application",
    ]  # fmt: skip
    process = start(command, env, f"{base}/", work / f"{port}.log")
    rows = []
    try:
        idle_before, idle_at = _cpu_seconds(process.pid), time.monotonic()
        time.sleep(3)
        idle = (_cpu_seconds(process.pid) - idle_before) / (time.monotonic() - idle_at)
        for poll in options.poll:
            row = asyncio.run(
                _poll_pages(
                    base, pages=options.pages, poll=poll, duration=options.duration, server_pid=process.pid
                )
            )
            rows.append(row)
            print(
                f"  poll every {poll:g} s: {row.polls_per_s:7.0f} polls/s, app CPU {row.cores:.2f} cores",
                flush=True,
            )
    finally:
        process.terminate()
        process.wait(timeout=15)
    print()
    print(f"Open pages: {options.pages} pages polling the app (granian, {options.workers} workers) for "
          f"{options.duration} s each, on {os.cpu_count()} cores, the pages' client on the same machine")  # fmt: skip
    header = f"{'poll':>6} {'polls/s':>8} {'answers':24} {'p50 ms':>7} {'p99 ms':>7} {'app CPU (cores)':>16}"
    print(header)
    print("-" * len(header))
    for row in rows:
        answers = ", ".join(f"{count} x {status or 'error'}" for status, count in sorted(row.answers.items()))
        print(f"{row.poll:>5g}s {row.polls_per_s:>8.0f} {answers:24} {row.p50_ms:>7.1f} {row.p99_ms:>7.1f} "
              f"{row.cores:>16.3f}")  # fmt: skip
    print(f"(idle app: {idle:.3f} cores)")
    polls = " ".join(f"{poll:g}" for poll in options.poll)
    print(
        f"Reproduce: python bench/surge.py --pages {options.pages} --poll {polls} --duration {options.duration}"
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="app server processes")
    parser.add_argument("--pages", type=int, default=0, help="measure N open pages polling instead")
    parser.add_argument(
        "--poll", type=float, nargs="+", default=[15.0, 2.0], help="poll intervals to compare, seconds"
    )
    options = parser.parse_args()
    if options.pages:
        return open_pages(options)
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install nginx-light wrk")

    work = Path(tempfile.mkdtemp(prefix="statushub-surge-"))
    env = environment(work / "var")
    export_dir = work / "site"
    print(f"Preparing the demo site, its snapshot and its export in {work} ...", flush=True)
    prepare(env, export_dir)

    servers = {
        "nginx (static export)": (
            [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(work), "-c",
             str(nginx_config(work, export_dir, 8931)), "-g", "daemon off;"],
            8931,
        ),
        f"app: granian, {options.workers} workers": (
            [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", str(options.workers),
             "--blocking-threads", "8", "--backlog", "4096", "--host", "127.0.0.1", "--port", "8932",
             "--no-access-log", "statushub.wsgi:application"],
            8932,
        ),
        f"app: gunicorn, {options.workers * 2} workers": (
            [sys.executable, "-m", "gunicorn", "statushub.wsgi", "--bind", "127.0.0.1:8933",
             "--workers", str(options.workers * 2), "--backlog", "4096"],
            8933,
        ),
    }  # fmt: skip

    results: list[Load] = []
    bodies: dict[str, dict[str, bytes]] = {}
    for name, (command, port) in servers.items():
        base = f"http://127.0.0.1:{port}"
        process = start(command, env, f"{base}/", work / f"{port}.log")
        try:
            # wrk asks for no compression: fetch the same representation, and its ETag, as wrk will.
            identity = {"Accept-Encoding": "identity"}
            bodies[name] = {url: httpx.get(base + url, headers=identity).content for url in URLS}
            for url in URLS:
                etag = httpx.get(base + url, headers=identity).headers["etag"]
                revalidated = httpx.get(base + url, headers={**identity, "If-None-Match": etag}).status_code
                if revalidated != 304:
                    raise SystemExit(f"{name} answered {revalidated}, not 304, to its own ETag for {url}")
                for conditional in (False, True):
                    rps, p99, errors, _ = wrk(
                        base + url,
                        connections=options.connections,
                        duration=options.duration,
                        etag=etag if conditional else None,
                    )
                    code = "304" if conditional else "200"
                    results.append(Load(name, url, conditional, rps, p99, errors, code))
                    print(
                        f"  {name:28} {url:22} {code}: {rps:>9.0f} req/s  p99 {p99:6.1f} ms  errors {errors}"
                    )
        finally:
            process.terminate()
            process.wait(timeout=15)

    names = list(servers)
    same = all(bodies[names[0]][url] == bodies[other][url] for other in names[1:] for url in URLS)
    report(results, names, options, same)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def report(results: list[Load], names: list[str], options: argparse.Namespace, same: bool) -> None:
    nginx, app = names[0], names[1]
    print()
    print(f"Surge: wrk -t2 -c{options.connections} -d{options.duration}s on {os.cpu_count()} cores, load and servers "
          f"on one machine. Same bytes from every server: {'yes' if same else 'NO'}")  # fmt: skip
    header = f"{'URL':22} {'answer':6} {'server':28} {'req/s':>9} {'p99 ms':>8} {'errors':>7} {'vs nginx':>9}  target"
    print(header)
    print("-" * len(header))
    by_key = {(r.server, r.url, r.conditional): r for r in results}
    verdicts = []
    for url in URLS:
        for conditional in (False, True):
            base = by_key[(nginx, url, conditional)]
            for name in names:
                row = by_key[(name, url, conditional)]
                ratio = row.rps / base.rps if base.rps else 0.0
                verdict = ""
                if name == app:
                    ok = ratio >= TARGET_RATIO and row.p99_ms <= TARGET_P99_MS and row.errors == 0
                    verdict = "PASS" if ok else "MISS"
                    verdicts.append(ok)
                print(f"{url:22} {row.statuses:6} {name:28} {row.rps:>9.0f} {row.p99_ms:>8.1f} {row.errors:>7} "
                      f"{ratio:>8.0%}  {verdict}")  # fmt: skip
    print()
    print(f"Target: the app path ≥ {TARGET_RATIO:.0%} of nginx's req/s, p99 ≤ {TARGET_P99_MS:.0f} ms, no errors: "
          f"{'PASS' if all(verdicts) else 'MISS'}")  # fmt: skip
    print(
        f"Reproduce: python bench/surge.py --duration {options.duration} --connections {options.connections}"
    )


if __name__ == "__main__":
    sys.exit(main())
