"""One local HTTP server that answers like every service StatusHub posts to, and records what it was sent.

Each transport is pointed at it through its base-URL setting (``api_base``, ``instance``, ``service``,
``forum_url``, ``base_url``, webhook ``url``), so a real Celery worker in another process speaks the real wire
format to it. Paths start with the service's name; what follows is that service's own API path.
"""

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {key: values[-1] for key, values in parse_qs(self.body.decode()).items()}


Answer = tuple[int, dict[str, Any] | list[Any] | str, dict[str, str]]


@dataclass(frozen=True)
class Fault:
    """A failure injected into the next matching request, as the chaos run saw them.

    ``error`` (500) and ``ratelimit`` (429 + Retry-After) answer instead of the service: nothing happens.
    ``held`` (the answer comes after ``seconds``, past the client's timeout), ``reset`` (TCP RST) and ``close``
    (the connection closes without an answer) happen after the service did the work: the post exists, but
    the client never learns it, which is what turns a careless retry into a duplicate.
    """

    kind: str  # error | ratelimit | held | reset | close
    seconds: float = 0.0  # held: how long the answer is held; ratelimit: the Retry-After value
    early: bool = False  # reset/close/held before the service did the work (the post is not made)

    KINDS = ("error", "ratelimit", "held", "reset", "close")

    @property
    def after_work(self) -> bool:
        return self.kind in ("held", "reset", "close") and not self.early


@dataclass
class FakeServices:
    base: str = ""
    seen: list[Seen] = field(default_factory=list)
    # path → how many times it was asked, for scripted failures
    hits: dict[str, int] = field(default_factory=dict)
    routes: dict[tuple[str, str], Callable[[Seen, int], Answer]] = field(default_factory=dict)
    # (method, path) → faults for its next requests, in order
    faults: dict[tuple[str, str], list[Fault]] = field(default_factory=dict)

    def route(self, method: str, path: str) -> Callable[[Callable[[Seen, int], Answer]], None]:
        def register(answer: Callable[[Seen, int], Answer]) -> None:
            self.routes[(method, path)] = answer

        return register

    def inject(self, method: str, path: str, *faults: Fault) -> None:
        """The next requests to ``method path`` fail in these ways, one each, in order."""
        with _lock:
            self.faults.setdefault((method, path), []).extend(faults)

    def respond(self, seen: Seen) -> tuple[Answer | None, Fault | None]:
        """The answer (None if a fault stands in for it) and the fault to apply on the way back, if any."""
        with _lock:
            queued = self.faults.get((seen.method, seen.path))
            fault = queued.pop(0) if queued else None
        if fault is not None and not fault.after_work:
            with _lock:
                self.seen.append(seen)
            if fault.kind in ("reset", "close"):
                return None, fault
            if fault.kind == "held":
                return (504, {"error": "fake: held, then gave up"}, {}), fault
            if fault.kind == "ratelimit":
                return (429, {"error": "rate limited"}, {"Retry-After": str(int(fault.seconds or 1))}), fault
            return (500, {"error": "fake: internal error"}, {}), fault
        return self.answer(seen), fault

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def answer(self, seen: Seen) -> Answer:
        key = (seen.method, seen.path)
        with _lock:
            self.hits[seen.path] = self.hits.get(seen.path, 0) + 1
            self.seen.append(seen)
            count = self.hits[seen.path]
        if key not in self.routes:
            return 404, {"error": f"fake: no route {seen.method} {seen.path}"}, {}
        return self.routes[key](seen, count)


_lock = threading.Lock()


def _handler(fake: FakeServices) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                self.command,
                parts.path,
                parse_qs(parts.query),
                dict(self.headers.items()),
                self.rfile.read(length),
            )
            answer, fault = fake.respond(seen)
            if fault is not None and fault.kind in ("reset", "close"):
                if fault.kind == "reset":  # linger 0: close sends RST instead of FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if fault is not None and fault.kind == "held":
                time.sleep(fault.seconds)
            assert answer is not None
            status, body, headers = answer
            raw = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(raw)
            except OSError:  # a held answer's client has gone
                self.close_connection = True

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_services() -> Iterator[FakeServices]:
    fake = FakeServices()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
