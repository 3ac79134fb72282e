"""The notice lifecycle as data: which status may follow which, checked in one place."""

from __future__ import annotations

from alerts.errors import InvalidTransition
from alerts.i18n import N_
from alerts.notices.models import Notice, NoticeRevision, NoticeStatus, RevisionState

S = NoticeStatus
R = RevisionState

ALLOWED_STATUS_TRANSITIONS: dict[NoticeStatus, frozenset[NoticeStatus]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.CANCELLED, S.ACTIVE, S.SCHEDULED}),
    S.PENDING_APPROVAL: frozenset({S.APPROVED, S.DRAFT, S.ACTIVE, S.SCHEDULED}),
    S.APPROVED: frozenset({S.ACTIVE, S.SCHEDULED, S.DRAFT}),
    # An active notice stays active when an update is published.
    S.SCHEDULED: frozenset({S.ACTIVE, S.SCHEDULED, S.CANCELLED, S.EXPIRED}),
    S.ACTIVE: frozenset({S.ACTIVE, S.CANCELLED, S.EXPIRED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}

ALLOWED_REVISION_TRANSITIONS: dict[RevisionState, frozenset[RevisionState]] = {
    R.DRAFT: frozenset({R.PENDING_APPROVAL, R.WITHDRAWN, R.PUBLISHED}),
    R.PENDING_APPROVAL: frozenset({R.APPROVED, R.REJECTED, R.DRAFT, R.PUBLISHED, R.WITHDRAWN}),
    R.APPROVED: frozenset({R.PUBLISHED, R.DRAFT, R.WITHDRAWN}),
    R.PUBLISHED: frozenset(),
    R.REJECTED: frozenset(),
    R.WITHDRAWN: frozenset(),
}

# Statuses in which the notice is (or will be) public and can take an update or all-clear.
LIVE = frozenset({S.SCHEDULED, S.ACTIVE})
ENDED = frozenset({S.CANCELLED, S.EXPIRED})


def move_notice(notice: Notice, to: NoticeStatus, *, action: str) -> NoticeStatus:
    """Set ``notice.status`` to ``to`` if the table allows it; return the old status."""
    current = NoticeStatus(notice.status)
    if to not in ALLOWED_STATUS_TRANSITIONS[current]:
        raise InvalidTransition(
            N_("Kan inte %(action)s ett meddelande med status %(status)s"),
            action=action,
            status=current,
        )
    notice.status = to
    return current


def move_revision(revision: NoticeRevision, to: RevisionState, *, action: str) -> None:
    """Set ``revision.state`` to ``to`` if the table allows it."""
    current = RevisionState(revision.state)
    if to not in ALLOWED_REVISION_TRANSITIONS[current]:
        raise InvalidTransition(
            N_("Kan inte %(action)s revision %(number)s, som har status %(state)s"),
            action=action,
            number=revision.number,
            state=current,
        )
    revision.state = to
