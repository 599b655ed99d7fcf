"""Item 13: a worker survives restarts of its Redis broker, also with a task in hand when Redis goes away.

The test runs a Redis of its own on a free port (the shared one on 6379 is never touched), a real worker on it
as production runs it (thread pool), and restarts that Redis several times. kombu used to crash the worker
("Unrecoverable error: AttributeError ... _connparams") when a late-acknowledged task was running at the
moment of the restart.
"""

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from statushub.celery import app
from tests.conftest import _celery_worker, free_port
from tests.worker_tasks import record

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
RESTARTS = 4


class OwnRedis:
    """A redis-server on a port of its own, with an append-only file, as a broker's Redis would be run."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                 "--save", "", "--appendonly", "yes"],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def _send(broker_url: str, path: Path, seconds: float) -> None:
    with app.connection_for_write(broker_url) as connection:
        producer = app.amqp.Producer(connection)
        record.apply_async((str(path), seconds), producer=producer, queue=settings.CELERY_TASK_DEFAULT_QUEUE)


def _wait_for(
    what: str, condition: Callable[[], bool], worker: subprocess.Popen[bytes], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert worker.poll() is None, f"the worker exited ({worker.returncode}) while waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_the_worker_survives_broker_restarts_with_a_task_in_hand_and_goes_on_working(own_redis, tmp_path):
    files = tmp_path / "tasks"
    files.mkdir()
    broker = {"REDIS_URL": own_redis.url, "CELERY_BROKER_URL": own_redis.url,
              "CACHE_REDIS_URL": os.environ["REDIS_URL"]}  # fmt: skip
    with _celery_worker(
        tmp_path, "--pool=threads", "--concurrency=4", "--include=tests.worker_tasks", extra_env=broker
    ) as worker:
        for restart in range(1, RESTARTS + 1):
            # A late-acknowledged task is running when Redis goes away, and finishes while it is away or just back.
            running = files / f"running-{restart}"
            _send(own_redis.url, running, seconds=3)
            _wait_for("the task to start", Path(f"{running}.started").exists, worker, 20)
            own_redis.stop()
            time.sleep(1)
            own_redis.start()
            _wait_for("the running task to finish", running.exists, worker, 20)

            after = files / f"after-{restart}"
            _send(own_redis.url, after, seconds=0)
            _wait_for(f"a task sent after restart {restart}", after.exists, worker, 45)
        time.sleep(2)
        assert worker.poll() is None, "the worker is still running"
        # The tasks running at each restart acknowledged their messages once Redis was back: none is left to be
        # delivered again when the visibility timeout runs out, and none ran twice.
        assert redis.Redis.from_url(own_redis.url).hlen("unacked") == 0
        assert all(
            len((files / f"running-{n}").read_text().splitlines()) == 1 for n in range(1, RESTARTS + 1)
        )

    log = (tmp_path / "worker.log").read_text()
    assert "Unrecoverable error" not in log
    assert log.count("Connection to broker lost") >= RESTARTS
