"""An SMTP sink for benchmarks: takes every message and throws it away, at little CPU.

The benchmark's SMTP server runs on the same two cores as the workers it measures.
aiosmtpd (:mod:`tests.fakes.smtp_server`, what the tests talk to) reads DATA line by
line and spent as much CPU per message as the sender did (1.5 ms on a slow machine), so
the figure was mostly the fake's. This sink does what Postfix's ``smtp-sink`` does for
the same reason (its delay takes whole seconds only): it reads in chunks, finds the end
of DATA with one search, and answers it ``latency_ms`` later, so that, as on a real
relay, a connection carries one message per exchange. It offers no extension a sender
would need to use (no SIZE, PIPELINING, AUTH or STARTTLS)::

    python -m tests.fakes.smtp_sink --port 8025 --latency-ms 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

_END_OF_DATA = b"\r\n.\r\n"
_EHLO = b"250-varsla-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
_REPLIES = {
    b"HELO": b"250 varsla-sink\r\n",
    b"MAIL": b"250 2.1.0 OK\r\n",
    b"RCPT": b"250 2.1.5 OK\r\n",
    b"RSET": b"250 2.0.0 OK\r\n",
    b"NOOP": b"250 2.0.0 OK\r\n",
}


class SinkSession(asyncio.Protocol):
    """One client connection: commands answered at once, DATA ``latency_s`` after its end."""

    def __init__(self, latency_s: float, counter: list[int]) -> None:
        self.latency_s = latency_s
        self.counter = counter
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 varsla-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        while buffer and self.transport is not None:
            if self.in_data:
                end = buffer.find(_END_OF_DATA)
                if end < 0:
                    # Keep what could be the start of a terminator split across reads.
                    self.buffer = buffer[-(len(_END_OF_DATA) - 1) :]
                    return
                buffer = buffer[end + len(_END_OF_DATA) :]
                self.in_data = False
                self.counter[0] += 1
                if self.latency_s:
                    self.buffer = buffer
                    self._reply_later(b"250 2.0.0 Message accepted\r\n")
                    return
                self.transport.write(b"250 2.0.0 Message accepted\r\n")
                continue
            line, found, rest = buffer.partition(b"\r\n")
            if not found:
                break
            buffer = rest
            verb = line[:4].upper()
            if verb == b"DATA":
                self.transport.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                # The CRLF that ended DATA lets an empty message end at once.
                self.in_data, buffer = True, b"\r\n" + buffer
            elif verb == b"EHLO":
                self.transport.write(_EHLO)
            elif verb == b"QUIT":
                self.transport.write(b"221 2.0.0 Bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(_REPLIES.get(verb, b"502 5.5.2 Command not recognized\r\n"))
        self.buffer = buffer

    def _reply_later(self, reply: bytes) -> None:
        """``reply`` after ``latency_s``; until then nothing more is read or answered, so
        replies keep the order of the commands."""
        transport = self.transport
        if transport is None:
            return
        transport.pause_reading()

        def answer() -> None:
            if not transport.is_closing():
                transport.write(reply)
                transport.resume_reading()
                self.data_received(b"")  # what came after the message

        asyncio.get_running_loop().call_later(self.latency_s, answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(port: int, latency_s: float) -> None:
    loop = asyncio.get_running_loop()
    counter = [0]
    server = await loop.create_server(
        lambda: SinkSession(latency_s, counter), "127.0.0.1", port, backlog=1024
    )
    print(f"SMTP sink on smtp://127.0.0.1:{port} latency {latency_s * 1000:g} ms", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="SMTP sink on 127.0.0.1 (benchmarks)")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--no-record", action="store_true", help="accepted; it keeps nothing")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
