"""Shared by the benchmarks: their own PostgreSQL database, a real Celery worker, a free port.

Imports nothing of the project's: each script points the environment at its own resources before Django starts.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- The benchmark's own database -----------------------------------------------------------------------------


def _maintenance(database_url: str) -> tuple[Any, str]:
    """An autocommit connection to the server's maintenance database, and the benchmark database's name."""
    import psycopg

    parts = urlsplit(database_url)
    maintenance = parts._replace(scheme="postgresql", path="/postgres").geturl()
    return psycopg.connect(maintenance, autocommit=True), parts.path.lstrip("/")


def recreate_database(database_url: str) -> None:
    """Drop the database (closing every connection to it) and create it empty."""
    from psycopg import sql

    conn, name = _maintenance(database_url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(database_url: str) -> None:
    from psycopg import sql

    conn, name = _maintenance(database_url)
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database_if_missing(database_url: str) -> None:
    from psycopg import sql

    conn, name = _maintenance(database_url)
    with conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- A real Celery worker -------------------------------------------------------------------------------------


def celery_worker_command(pool: str, concurrency: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "statushub", "worker", f"--pool={pool}",
        f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle",
        "--without-heartbeat",
    ]  # fmt: skip


@contextmanager
def celery_worker(
    command: list[str], log: Path, *, env: dict[str, str] | None = None, stop_timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """The worker ``command`` starts, its output in ``log``, once it says it is ready; stopped warm on the way out
    (its tasks finish), killed if it takes longer than ``stop_timeout`` seconds."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the Celery worker did not start; see {log}:\n{tail}")
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
