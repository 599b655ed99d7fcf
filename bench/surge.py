"""Surge: the app's own snapshot serving against nginx serving the exported files of the same bytes.

    python bench/surge.py [--duration 10] [--connections 256]

Seeds the demo crisis into its own PostgreSQL database, builds the snapshot (in Redis, as several web nodes
share it), exports it, then loads each server in turn with wrk at 256 connections: nginx with the shipped
config (deploy/nginx/statushub-static.conf), the app under granian (the production choice) and, for the
record of why, under gunicorn. Plain GETs and conditional GETs (If-None-Match → 304) of the front page and
of the Statuspage API's summary.json. Prints req/s, p99, errors, and the app/nginx ratio against the target:
at least 30% of nginx's req/s with p99 ≤ 50 ms and no errors.

Run by hand, on an otherwise idle machine; it needs nginx and wrk (apt-get install nginx-light wrk).
"""

import argparse
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


def prepare(env: dict[str, str], export_dir: Path) -> None:
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="app server processes")
    options = parser.parse_args()
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
