"""Signals one feature sends and others subscribe to in their ``init_app``.

Blinker signals, as Flask and Indico use them: the sender does not know who
listens, and nothing is wired by importing a module.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

revision_released = _signals.signal(
    "revision-released",
    doc="""A notice revision went out (published, updated or all-clear), inside the
    publishing transaction. Sent with the notice as sender and ``session``, ``revision``
    and ``now``; receivers write what must commit with it (the delivery outbox).""",
)
