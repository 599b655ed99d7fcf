"""The embedded demo's Celery broker: messages are files in a folder, read by a real worker process.

kombu's own filesystem transport lost a burst to a race: a producer created the message file and only then wrote
it, so a worker could pick up an empty file, fail with ``JSONDecodeError`` and die. It also deleted a message as
soon as it was read, so a worker killed mid-task lost it although tasks are acknowledged late.

This transport keeps kombu's layout and options (``data_folder_in``/``data_folder_out``, ``control_folder``,
``processed_folder``, ``store_processed``) and changes three things:

- a message is written to a hidden temporary file, flushed to disk and renamed into the queue folder, so a reader
  only ever sees complete messages;
- a file that cannot be read as a message is moved to ``bad/`` beside the queue folder and logged, and the worker
  goes on with the next one;
- a message being worked on waits in ``unacked/<consumer>/`` until it is acknowledged. Each consumer holds a lock
  on its folder for as long as it lives; any consumer that finds a folder whose lock is free (its owner died, even
  by SIGKILL) moves those messages back to the queue, so they are worked again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

ALIAS = "statushub-files"
# How often a polling consumer looks for messages left behind by a dead one.
RECOVER_EVERY_SECONDS = 2.0


def register() -> None:
    """Let a broker URL say ``statushub-files://`` (kombu resolves transports by their URL scheme)."""
    TRANSPORT_ALIASES[ALIAS] = f"{__name__}:Transport"


def _write_atomically(path: Path, data: bytes) -> None:
    """The file appears at ``path`` complete or not at all."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class QoS(virtual.QoS):
    """Acknowledging a message deletes its file; rejecting or restoring one moves it back to the queue."""

    channel: Channel

    def ack(self, delivery_tag: str) -> None:
        self.channel._settle(delivery_tag, requeue=False)
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.channel._settle(delivery_tag, requeue=requeue)
        super().ack(delivery_tag)  # forgets the message without kombu's re-publish of it

    def restore_unacked(self) -> None:
        delivered: dict[str, Any] = self._delivered or {}
        for delivery_tag in list(delivered):
            self.channel._settle(delivery_tag, requeue=True)
        delivered.clear()


class Channel(filesystem.Channel):
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_flight: dict[str, Path] = {}
        self._no_ack_queues: set[str] = set()
        self._lock_file: Any = None
        self._next_recovery = 0.0
        self._owner_folder: Path | None = None

    # --- folders -------------------------------------------------------------------------------------------
    @property
    def _queue_folder(self) -> Path:
        return Path(self.data_folder_in)

    @property
    def _bad_folder(self) -> Path:
        return self._queue_folder.parent / "bad"

    @property
    def _unacked_root(self) -> Path:
        return self._queue_folder.parent / "unacked"

    def _own_folder(self) -> Path:
        """This consumer's folder for messages it holds, locked for as long as the channel (and process) lives."""
        if self._owner_folder is None:
            self._unacked_root.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            # Locked before it gets its visible name, so a recovering consumer never sees it unlocked.
            staging = self._unacked_root / f".{name}"
            staging.mkdir()
            lock_file = (staging / "lock").open("wb")
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            staging.rename(self._unacked_root / name)
            self._lock_file = lock_file
            self._owner_folder = self._unacked_root / name
        return self._owner_folder

    # --- producing -----------------------------------------------------------------------------------------
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]  # as kombu
        # kombu's name: the clock orders the queue, the uuid keeps names apart, the suffix names the queue.
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            _write_atomically(Path(self.data_folder_out) / name, dumps(payload).encode())
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to the queue folder") from exc

    # --- consuming -----------------------------------------------------------------------------------------
    def basic_consume(self, queue: str, no_ack: bool, *args: Any, **kwargs: Any) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        return super().basic_consume(queue, no_ack, *args, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        message = super().basic_get(queue, no_ack=no_ack, **kwargs)
        if message is not None and no_ack:
            self._settle(str(message.delivery_tag), requeue=False)
        return message

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + RECOVER_EVERY_SECONDS
            self.recover_orphans()
        suffix = f"{queue}.msg"
        for name in sorted(os.listdir(self._queue_folder)):
            if name.startswith(".") or name.partition(".")[2] != suffix:
                continue
            held = self._own_folder() / name
            try:
                # Atomic: of two consumers reaching for the same file, exactly one gets it.
                os.rename(self._queue_folder / name, held)
            except FileNotFoundError:
                continue
            payload = self._read(held)
            if payload is None:
                continue
            delivery_tag = payload["properties"]["delivery_tag"]
            if queue in self._no_ack_queues:
                self._finish(held)
            else:
                self._in_flight[delivery_tag] = held
            return payload
        raise Empty()

    def _read(self, held: Path) -> dict[str, Any] | None:
        """The message in ``held``; a file that is not one is moved to ``bad/`` and logged, never raised."""
        try:
            payload = loads(held.read_bytes().decode())
            if not isinstance(payload["properties"]["delivery_tag"], str):
                raise TypeError("delivery_tag is not a string")
        except Exception as exc:  # any unreadable message: the next one must still be delivered
            self._bad_folder.mkdir(parents=True, exist_ok=True)
            os.replace(held, self._bad_folder / held.name)
            logger.error(
                "Skipped an unreadable broker message (%s: %s); moved to %s",
                type(exc).__name__, exc, self._bad_folder / held.name,
            )  # fmt: skip
            return None
        assert isinstance(payload, dict)
        return payload

    def _settle(self, delivery_tag: str, *, requeue: bool) -> None:
        held = self._in_flight.pop(delivery_tag, None)
        if held is None:
            return
        if requeue:
            # Back under its old name, so it keeps its place at the front of the queue.
            with contextlib.suppress(FileNotFoundError):
                os.replace(held, self._queue_folder / held.name)
        else:
            self._finish(held)

    def _finish(self, held: Path) -> None:
        if self.store_processed:
            Path(self.processed_folder).mkdir(parents=True, exist_ok=True)
            os.replace(held, Path(self.processed_folder) / held.name)
        else:
            held.unlink(missing_ok=True)

    def recover_orphans(self) -> int:
        """Move back to the queue the messages held by consumers that are gone; returns how many."""
        if not self._unacked_root.is_dir():
            return 0
        recovered = 0
        for folder in self._unacked_root.iterdir():
            if folder.name.startswith(".") or folder == self._owner_folder:
                continue
            try:
                lock_file = (folder / "lock").open("rb")
            except (FileNotFoundError, NotADirectoryError):
                continue
            with lock_file:
                try:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its consumer is alive
                for held in folder.glob("*.msg"):
                    try:
                        os.replace(held, self._queue_folder / held.name)
                        recovered += 1
                    except FileNotFoundError:
                        pass
                (folder / "lock").unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
        if recovered:
            logger.warning("Re-queued %d unacknowledged message(s) of a consumer that stopped", recovered)
        return recovered

    def close(self) -> None:
        super().close()  # restores what this channel still holds (QoS.restore_unacked)
        if self._owner_folder is not None:
            for held in self._owner_folder.glob("*.msg"):
                os.replace(held, self._queue_folder / held.name)
            (self._owner_folder / "lock").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._owner_folder.rmdir()
            self._lock_file.close()
            self._owner_folder = None


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = "filesystem"
    driver_name = "statushub-files"
