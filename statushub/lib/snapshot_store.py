"""Where the public snapshot lives, and how each of its files is answered over HTTP.

The snapshot is a set of files keyed by URL path (``/``, ``/incidents/7/``, ``/api/v2/summary.json``...).
Two stores hold it:

- ``FileStore``: a directory laid out exactly as a static web server expects (``/incidents/7/`` is
  ``incidents/7/index.html``). The embedded default, and what ``statushub export`` writes.
- ``RedisStore``: two hashes in Redis, shared by every web node; each process keeps what it served in memory,
  so a Redis outage still leaves it answering with what it last had.

Headers are a function of the path alone (``headers_for``), so the app, nginx and any static host send the same
ones. Nothing here touches the database.
"""

import gzip
import hashlib
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import redis

from statushub.lib import security_headers

# What the open page polls stays fresh for less than one poll interval (STATUSHUB_POLL_SECONDS, 2 s by default),
# so every poll reaches the server (or the CDN) and a change shows at the next poll.
POLLED_MAX_AGE = 1


def cache_control(max_age: int, *, polled: bool = False) -> str:
    """Short-lived and shared; served stale while refetching, and for a day if the origin fails.

    What the open page polls (``_live/``) is fresh for ``POLLED_MAX_AGE`` at most and never served stale while
    refetching: a browser would answer the poll from its cache with the previous answer and show a change late.
    """
    if polled:
        return f"public, max-age={min(max_age, POLLED_MAX_AGE)}, stale-if-error=86400"
    return f"public, max-age={max_age}, stale-while-revalidate=30, stale-if-error=86400"


def is_polled(path: str) -> bool:
    return path.endswith("/_live/")


CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".pem": "application/x-pem-file",
    ".ico": "image/x-icon",
}
# Signed statements have no extension: their bytes are exactly what was signed.
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class SnapshotUnavailable(Exception):
    """The store cannot be read right now (e.g. Redis is down)."""


@dataclass(frozen=True)
class File:
    body: bytes
    etag: str  # quoted, strong
    gzipped: bytes | None = None  # the same body gzip-compressed, where the store keeps it so

    @classmethod
    def of(cls, body: bytes) -> "File":
        return cls(body=body, etag=etag_of(body))

    @property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation: the compressed one gets its own.
        return f'{self.etag[:-1]}-gz"'

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + len(self.etag)


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def gzip_bytes(body: bytes) -> bytes:
    return gzip.compress(body, compresslevel=6, mtime=0)  # mtime 0: the same body always compresses the same


class Memory:
    """What a process remembers of the store, least recently used first out, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._entries: OrderedDict[str, tuple[object, File | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str) -> tuple[object, File | None] | None:
        with self._lock:
            entry = self._entries.get(path)
            if entry is not None:
                self._entries.move_to_end(path)
            return entry

    @staticmethod
    def _cost(path: str, found: File | None) -> int:
        # A miss is remembered too, and costs its path: a flood of made-up URLs cannot grow memory unbounded.
        return len(path) + 100 + (found.size if found else 0)

    def put(self, path: str, generation: object, found: File | None) -> None:
        with self._lock:
            old = self._entries.pop(path, None)
            if old is not None:
                self.used -= self._cost(path, old[1])
            self._entries[path] = (generation, found)
            self.used += self._cost(path, found)
            while self.used > self.budget and len(self._entries) > 1:
                evicted_path, (_, evicted) = self._entries.popitem(last=False)
                self.used -= self._cost(evicted_path, evicted)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.used = 0


def file_name(path: str) -> str:
    """The relative file name a URL path is stored under: ``/a/`` → ``a/index.html``, ``/a.json`` → ``a.json``."""
    if not path.startswith("/") or "\\" in path or "\0" in path:
        raise ValueError(f"not a snapshot path: {path!r}")
    parts = PurePosixPath(path).parts[1:]
    if any(part.startswith(".") and part != ".well-known" for part in parts):
        raise ValueError(f"not a snapshot path: {path!r}")  # also keeps the store's own .statushub/ private
    name = "/".join(parts)
    if path.endswith("/"):
        name = f"{name}/index.html" if name else "index.html"
    return name


def content_type_for(path: str) -> str:
    name = file_name(path)
    return CONTENT_TYPES.get(PurePosixPath(name).suffix, DEFAULT_CONTENT_TYPE)


def headers_for(path: str, *, site_url: str, hub: str, max_age: int) -> list[tuple[str, str]]:
    """Every header a snapshot file is served with, the ETag aside. nginx's config in deploy/ mirrors these."""
    headers = [
        ("Content-Type", content_type_for(path)),
        ("Cache-Control", cache_control(max_age, polled=is_polled(path))),
        *security_headers.HEADERS,
        ("Vary", "Accept-Encoding"),
    ]
    if path.endswith((".atom", ".rss")):
        links = [f'<{site_url}{path}>; rel="self"']
        if hub:
            links.append(f'<{hub}>; rel="hub"')
        headers.append(("Link", ", ".join(links)))
    if path.startswith("/api/v2/"):
        headers.append(("Access-Control-Allow-Origin", "*"))
        headers.append(("Access-Control-Expose-Headers", "ETag"))
    if path.endswith("/statement"):
        public_id = path.rsplit("/", 2)[-2]
        headers.append(("Content-Disposition", f'inline; filename="statushub-{public_id}.statement"'))
    return headers


class Store(Protocol):
    def read(self, path: str) -> File | None: ...

    def write(self, files: dict[str, bytes], removed: Iterable[str] = ()) -> int: ...

    def paths(self) -> Iterator[str]: ...

    def get_meta(self, key: str) -> object: ...

    def set_meta(self, key: str, value: object) -> None: ...

    def clear(self) -> None: ...


class FileStore:
    """A directory of files named as a static server looks them up; every write is a rename, so atomic per file."""

    META_DIR = ".statushub"

    def __init__(self, root: Path, *, memory_bytes: int = 64 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.memory = Memory(memory_bytes)

    def _file(self, path: str) -> Path:
        return self.root / file_name(path)

    def read(self, path: str) -> File | None:
        try:
            target = self._file(path)
        except ValueError:
            return None
        try:
            with open(target, "rb") as handle:
                stat = os.fstat(handle.fileno())
                version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                remembered = self.memory.get(path)
                if remembered is not None and remembered[0] == version:
                    return remembered[1]
                body = handle.read()
                found = File(
                    body=body, etag=etag_of(body), gzipped=gzip_bytes(body) if len(body) > 1024 else None
                )
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as exc:
            raise SnapshotUnavailable(str(exc)) from exc
        self.memory.put(path, version, found)
        return found

    def write(self, files: dict[str, bytes], removed: Iterable[str] = ()) -> int:
        changed = 0
        for path, body in files.items():
            target = self._file(path)
            current = self.read(path)
            if current is not None and current.body == body:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write(target, body)
            changed += 1
        for path in removed:
            try:
                self._file(path).unlink()
                changed += 1
            except FileNotFoundError:
                pass
        return changed

    def paths(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for directory, subdirs, names in os.walk(self.root):
            subdirs[:] = [d for d in subdirs if d != self.META_DIR]
            relative = Path(directory).relative_to(self.root).as_posix()
            prefix = "/" if relative == "." else f"/{relative}/"
            for name in names:
                if name.startswith(".tmp-"):
                    continue
                yield prefix if name == "index.html" else f"{prefix}{name}"

    def get_meta(self, key: str) -> object:
        try:
            return json.loads((self.root / self.META_DIR / f"{key}.json").read_text())
        except FileNotFoundError:
            return None

    def set_meta(self, key: str, value: object) -> None:
        target = self.root / self.META_DIR / f"{key}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, json.dumps(value, sort_keys=True).encode())

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.memory.clear()


def _atomic_write(target: Path, body: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class RedisStore:
    """The snapshot in Redis for several web nodes. Keys carry no expiry, so a ``volatile-lru`` cache never evicts them.

    Bodies are kept gzip-compressed: a long history takes a fifth of the memory, and browsers get them as they are.
    Each process remembers the files it served (within ``memory_bytes``) and, once the store's generation changed
    (checked at most every ``recheck`` seconds), re-reads a file's ETag before serving it again. When Redis is
    unreachable it keeps answering with what it remembers.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "statushub:snapshot",
        recheck: float = 0.2,
        memory_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.bodies = f"{prefix}:bodies"
        self.etags = f"{prefix}:etags"
        self.generation_key = f"{prefix}:generation"
        self.meta = f"{prefix}:meta"
        self.recheck = recheck
        self._generation: object = None
        self._checked_at = 0.0
        self._down_until = 0.0
        self.memory = Memory(memory_bytes)
        self._lock = threading.Lock()

    OUTAGE_BACKOFF = 2.0

    def _current(self) -> object:
        now = time.monotonic()
        if now - self._checked_at >= self.recheck:
            generation = self.client.get(self.generation_key)
            with self._lock:
                self._checked_at = now
                self._generation = generation
        return self._generation

    def read(self, path: str) -> File | None:
        remembered = self.memory.get(path)
        if time.monotonic() < self._down_until:
            if remembered is not None:
                return remembered[1]
            raise SnapshotUnavailable("Redis was unreachable a moment ago")
        try:
            generation = self._current()
            if remembered is not None and remembered[0] == generation:
                return remembered[1]
            # The store changed since: most files did not. One small read tells.
            if (
                remembered is not None
                and remembered[1] is not None
                and _text(self.client.hget(self.etags, path)) == remembered[1].etag
            ):
                self.memory.put(path, generation, remembered[1])
                return remembered[1]
            with self.client.pipeline(transaction=True) as pipe:  # a body and its own ETag, never a mix
                pipe.hget(self.bodies, path)
                pipe.hget(self.etags, path)
                body, etag = pipe.execute()
        except redis.RedisError as exc:
            # Don't wait on an unreachable Redis at every request: answer from memory, ask again in a while.
            self._down_until = time.monotonic() + self.OUTAGE_BACKOFF
            if remembered is not None:
                return remembered[1]
            raise SnapshotUnavailable(str(exc)) from exc
        found = None
        if body is not None and etag is not None:
            gzipped = bytes(body)
            found = File(body=gzip.decompress(gzipped), etag=_text(etag), gzipped=gzipped)
        self.memory.put(path, generation, found)
        return found

    def write(self, files: dict[str, bytes], removed: Iterable[str] = ()) -> int:
        removed = [path for path in removed if path not in files]
        paths = list(files)
        existing = dict(zip(paths, self.client.hmget(self.etags, paths), strict=True)) if paths else {}
        fresh = {path: File.of(body) for path, body in files.items()}
        changed = {path: f for path, f in fresh.items() if _text(existing.get(path)) != f.etag}
        gone = [path for path, present in zip(removed, self._present(removed), strict=True) if present]
        if not changed and not gone:
            return 0
        with self.client.pipeline(transaction=True) as pipe:
            if changed:
                pipe.hset(self.bodies, mapping={path: gzip_bytes(f.body) for path, f in changed.items()})
                pipe.hset(self.etags, mapping={path: f.etag for path, f in changed.items()})
            if gone:
                pipe.hdel(self.bodies, *gone)
                pipe.hdel(self.etags, *gone)
            pipe.set(self.generation_key, secrets.token_hex(8))  # never repeats, even after a flush
            pipe.execute()
        return len(changed) + len(gone)

    def _present(self, paths: list[str]) -> list[bool]:
        if not paths:
            return []
        return [value is not None for value in self.client.hmget(self.etags, paths)]

    def paths(self) -> Iterator[str]:
        for key, _etag in self.client.hscan_iter(self.etags, count=1000):
            yield _text(key)

    def get_meta(self, key: str) -> object:
        value = self.client.hget(self.meta, key)
        return json.loads(value) if value is not None else None

    def set_meta(self, key: str, value: object) -> None:
        self.client.hset(self.meta, key, json.dumps(value, sort_keys=True))

    def clear(self) -> None:
        # Another process notices: the generation it remembers no longer matches (it is gone).
        self.client.delete(self.bodies, self.etags, self.meta, self.generation_key)
        self.memory.clear()
        with self._lock:
            self._generation = None
            self._checked_at = 0.0
            self._down_until = 0.0


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


_stores: dict[tuple[str, str], Store] = {}
_stores_lock = threading.Lock()


def snapshot_store() -> Store:
    """The store this deployment keeps its snapshot in: Redis when configured (several web nodes), else a directory."""
    from django.conf import settings

    url = settings.STATUSHUB_SNAPSHOT_REDIS_URL
    key = (
        ("redis", f"{url}\0{settings.STATUSHUB_SNAPSHOT_PREFIX}")
        if url
        else ("file", str(settings.STATUSHUB_SNAPSHOT_DIR))
    )
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            if url:
                store = RedisStore(
                    url,
                    prefix=settings.STATUSHUB_SNAPSHOT_PREFIX,
                    recheck=settings.STATUSHUB_SNAPSHOT_RECHECK_SECONDS,
                    memory_bytes=settings.STATUSHUB_SNAPSHOT_MEMORY_MB * 1024 * 1024,
                )
            else:
                store = FileStore(
                    Path(settings.STATUSHUB_SNAPSHOT_DIR),
                    memory_bytes=settings.STATUSHUB_SNAPSHOT_MEMORY_MB * 1024 * 1024,
                )
            _stores[key] = store
    return store
