"""The SMTP sink of ``bench/mail_fanout.py``, in a process of its own: aiosmtpd changed only where it would
otherwise cost far more per message than an MTA's front end, counting what it accepts."""

from __future__ import annotations

import multiprocessing
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Counters:
    """Shared with the parent: written only by the sink process, read by the parent."""

    def __init__(self, ctx: Any) -> None:
        self.received = ctx.RawValue("q", 0)
        self.duplicates = ctx.RawValue("q", 0)
        self.without_unsubscribe = ctx.RawValue("q", 0)
        self.connections = ctx.RawValue("q", 0)
        self.first_at = ctx.RawValue("d", 0.0)  # time.monotonic(): one clock for every process on Linux
        self.last_at = ctx.RawValue("d", 0.0)


_PLAIN_PATH = re.compile(r"\s*<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+)>")


def run_sink(port: int, counters: Counters, ready: Any) -> None:
    """aiosmtpd, made to cost per message about what a real MTA's front end costs, with a handler that counts.

    Changes from stock aiosmtpd, each what Postfix or any MTA built for volume does: it advertises PIPELINING
    (RFC 2920) and, as Postfix does, answers a pipelined group in one write; it reads DATA as one block up to
    the end marker instead of one asyncio read per line (which alone is about 40% of stock aiosmtpd's CPU per
    message); it reads a plain <local@domain> path without the email package's RFC 5322 parser; and it formats
    no log line per command.
    Stock aiosmtpd costs 450-700 µs of CPU per message here: on two shared cores, that alone would be most of
    the target's budget (2 cores x 60 s / 100,000 = 1.2 ms per message for everything).
    """
    import asyncio

    from aiosmtpd import smtp
    from aiosmtpd.controller import Controller

    smtp.sanitized_log = lambda *args, **kwargs: None
    seen: set[str] = set()

    class Counting:
        async def handle_EHLO(
            self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            now = time.monotonic()
            if not counters.received.value:
                counters.first_at.value = now
            for address in envelope.rcpt_tos:
                if address in seen:
                    counters.duplicates.value += 1
                seen.add(address)
            if b"\nList-Unsubscribe:" not in envelope.content:
                counters.without_unsubscribe.value += 1
            counters.last_at.value = now
            counters.received.value += 1
            return "250 OK"

    class CountingSMTP(smtp.SMTP):
        line_length_limit = 1 << 20  # DATA is read in one piece
        _replies: list[bytes] | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            counters.connections.value += 1
            super().connection_made(transport)

        async def push(self, status: str | bytes) -> None:
            # As Postfix does: replies to pipelined commands wait until the input read so far is handled.
            reply = status.encode("ascii") if isinstance(status, str) else status
            if self._replies is None:
                self._replies = []
                self.loop.call_soon(self._flush)
            self._replies.append(reply + b"\r\n")
            if reply.startswith(b"221"):  # QUIT: the connection closes next
                self._flush()

        def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
            # "<local@domain> SIZE=…" needs no RFC 5322 parser (stock aiosmtpd runs the email package's, and
            # defines a class, per address); anything less plain still goes to it.
            match = _PLAIN_PATH.match(arg)
            if match:
                return match.group(1), arg[match.end() :]
            return super()._getaddr(arg)

        def _flush(self) -> None:
            if self._replies and isinstance(self.transport, asyncio.WriteTransport):
                self.transport.write(b"".join(self._replies))
            self._replies = None

        async def smtp_DATA(self, arg: str) -> None:
            assert self.session is not None and self.envelope is not None
            if not self.session.host_name:
                await self.push("503 Error: send HELO first")
                return
            if not self.envelope.rcpt_tos:
                await self.push("503 Error: need RCPT command")
                return
            if arg:
                await self.push("501 Syntax: DATA")
                return
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            data = bytearray()
            while not (data == b".\r\n" or data.endswith(b"\r\n.\r\n")):
                data += await self._reader.readuntil(b".\r\n")
            content = bytes(data[:-3]).replace(b"\r\n..", b"\r\n.")
            self.envelope.content = self.envelope.original_content = content.removeprefix(b".")
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push(status)

    class CountingController(Controller):
        def factory(self) -> smtp.SMTP:
            return CountingSMTP(self.handler, hostname="bench-sink", **self.SMTP_kwargs)

    controller = CountingController(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *args: stop.update(now=True))
    while not stop["now"]:
        time.sleep(0.2)
    controller.stop()


@contextmanager
def sink(port: int) -> Iterator[tuple[Counters, int]]:
    ctx = multiprocessing.get_context("spawn")  # no Django, no inherited connections
    counters = Counters(ctx)
    ready = ctx.Event()
    process = ctx.Process(target=run_sink, args=(port, counters, ready), name="bench-smtp-sink", daemon=True)
    process.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")
        assert process.pid is not None
        yield counters, process.pid
    finally:
        process.terminate()
        process.join(10)
        if process.is_alive():
            process.kill()
