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

revision_submitted = _signals.signal(
    "revision-submitted",
    doc="""A notice revision now waits for approval (a submitted draft, a proposed update, an
    all-clear), inside the submitting transaction, after a flush. Sent with the notice as
    sender and ``session`` and ``revision``; receivers write what must commit with it (the
    messages that tell the approvers).""",
)

approval_requested = _signals.signal(
    "approval-requested",
    doc="""A revision waiting for approval was committed by a request (a submit, a proposed
    update or all-clear through the API). Sent after the commit with the notice as sender
    and no transaction open, so receivers may call providers (telling the approvers at once;
    the scheduler tries again what fails). The console tells approvers itself, to say what
    came of it.""",
)
