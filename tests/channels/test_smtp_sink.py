"""The benchmark's SMTP sink (tests/fakes/smtp_sink.py) takes what Varsla's sender sends:
every message over reused connections counted once, DATA answered after its latency."""

from __future__ import annotations

import asyncio
import time

from channels.base import Message, Outcome, Recipient
from channels.providers.smtp import SmtpEmail
from tests.fakes.smtp_sink import SinkSession


def run_sink(latency_s: float, sending) -> tuple[list, int, float]:
    """Start a sink on a free port, run ``sending(channel)`` against it; (results,
    messages the sink accepted, seconds the sending took)."""

    async def run():
        counter = [0]
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SinkSession(latency_s, counter), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        channel = SmtpEmail(
            "127.0.0.1", port, mail_from="varsla@motala.example", connections=4, timeout_s=5
        )
        started = time.monotonic()
        try:
            results = await sending(channel)
        finally:
            await channel.close_async()
            server.close()
        return results, counter[0], time.monotonic() - started

    return asyncio.run(run())


def message(n: int) -> Message:
    # A line that is only a dot, and one starting with one: the client stuffs them, and
    # the sink must not take either for the end of the message.
    body = f"Koka vattnet i Bergkarlås ({n}).\n.\n.ett stycke till\n"
    return Message(body, subject="Koka vattnet", reference=f"dlv-{n}", html=f"<p>{n}</p>")


def all_at_once(count: int):
    """``sending`` for :func:`run_sink`: ``count`` messages handed to ``send_async`` at once."""

    async def sending(channel):
        return await asyncio.gather(
            *(channel.send_async(Recipient(f"r{n}@example.se"), message(n)) for n in range(count))
        )

    return sending


def test_the_sink_accepts_each_message_once_over_parallel_connections():
    results, accepted, _ = run_sink(0.0, all_at_once(20))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 20
    assert accepted == 20


def test_the_synchronous_sender_and_an_empty_body_go_through_too():
    async def sending(channel):
        empty = Message("", subject="Tomt", reference="dlv-empty")
        return [
            await asyncio.to_thread(channel.send, Recipient("a@example.se"), message(1)),
            await asyncio.to_thread(channel.send, Recipient("b@example.se"), empty),
        ]

    results, accepted, _ = run_sink(0.0, sending)

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
    assert accepted == 2


def test_data_is_answered_after_the_latency_one_message_per_exchange():
    # Two messages on each of the 4 connections: two exchanges of 0.2 s one after the other.
    results, accepted, took = run_sink(0.2, all_at_once(8))

    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 8
    assert accepted == 8
    assert took >= 0.4
