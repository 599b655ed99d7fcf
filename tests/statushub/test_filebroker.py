"""Item 8: the embedded file broker survives bursts and bad files, and loses nothing when a worker is killed.

Real worker processes on the project's file transport (statushub/lib/filebroker.py), fed by concurrent producer
processes; no database is involved.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def _environment(folder: Path) -> dict[str, str]:
    return {**os.environ, "FILEBROKER_TEST_DIR": str(folder), "PYTHONPATH": str(ROOT)}


@pytest.fixture
def broker_dir(tmp_path: Path) -> Path:
    for name in ("queue", "processed", "control", "done", "started"):
        (tmp_path / name).mkdir()
    return tmp_path


@contextmanager
def running_worker(folder: Path, log: Path, *pool: str) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.filebroker_app", "worker", *pool, "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=_environment(folder), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while b"ready." not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _plant(folder: Path, content: bytes) -> None:
    """A file as a crashed or racing producer leaves it, named like a real message so it sorts first."""
    (folder / "queue" / f"0_{uuid.uuid4()}.burst.msg").write_bytes(content)


def _wait_for(
    condition: Callable[[], bool], *, seconds: float, what: str, process: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the worker died while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _enqueue(folder: Path, first: int, count: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.filebroker_app", str(first), str(count)],
        env=_environment(folder),
        cwd=ROOT,
    )


def _runs(folder: Path, n: int) -> int:
    path = folder / "done" / str(n)
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_burst_with_empty_and_truncated_files_is_consumed_and_the_bad_files_are_logged(
    broker_dir, tmp_path
):
    log = tmp_path / "worker.log"
    _plant(broker_dir, b"")
    _plant(broker_dir, b'{"body": "eyJh", "properties": {"delivery')
    with running_worker(broker_dir, log, "--pool=threads", "--concurrency=4") as worker:
        producers = [_enqueue(broker_dir, first=i * 60, count=60) for i in range(6)]
        # More bad files while the burst is under way.
        _plant(broker_dir, b"")
        _plant(broker_dir, b"not json at all")
        for producer in producers:
            assert producer.wait(timeout=60) == 0
        _wait_for(
            lambda: len(os.listdir(broker_dir / "done")) == 360,
            seconds=60,
            what="all 360 tasks",
            process=worker,
        )
        assert worker.poll() is None, "the worker is still running"

    assert all(_runs(broker_dir, n) == 1 for n in range(360)), "each task ran exactly once"
    assert len(os.listdir(broker_dir / "bad")) == 4, "the bad files are kept aside for a person to look at"
    assert log.read_text().count("Skipped an unreadable broker message") == 4
    assert not [name for name in os.listdir(broker_dir / "queue") if not name.startswith(".")]


def test_a_killed_workers_unacknowledged_task_comes_back_and_an_acknowledged_one_does_not(
    broker_dir, tmp_path
):
    from_app = _environment(broker_dir)
    send = [sys.executable, "-c", "import sys; from tests.filebroker_app import hold, record; "
            "(record if sys.argv[1] == 'record' else hold).delay(int(sys.argv[2]))"]  # fmt: skip

    with running_worker(broker_dir, tmp_path / "first.log", "--pool=solo") as first:
        subprocess.run([*send, "record", "1"], env=from_app, cwd=ROOT, check=True)
        _wait_for(lambda: _runs(broker_dir, 1) == 1, seconds=20, what="the acknowledged task", process=first)
        subprocess.run([*send, "hold", "2"], env=from_app, cwd=ROOT, check=True)
        _wait_for(
            lambda: any((broker_dir / "started").iterdir()), seconds=20, what="the held task", process=first
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)

    (broker_dir / "release").touch()
    with running_worker(broker_dir, tmp_path / "second.log", "--pool=solo") as second:
        _wait_for(
            lambda: _runs(broker_dir, 2) == 1, seconds=30, what="the killed worker's task", process=second
        )
        time.sleep(1)  # room for a wrong redelivery of the acknowledged task to show

    assert {path.name.split(".")[1] for path in (broker_dir / "started").iterdir()} == {
        str(first.pid),
        str(second.pid),
    }, "the second worker ran the task the first was killed in"
    assert _runs(broker_dir, 1) == 1, "the acknowledged task is not run again"
    assert _runs(broker_dir, 2) == 1
    assert "Re-queued 1 unacknowledged message" in (tmp_path / "second.log").read_text()
