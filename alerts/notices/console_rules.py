"""What an operator may do with a notice in the console, given their role and its state.

One answer for the buttons a page shows and for the POSTs the console accepts: a button
that is not shown is refused by direct URL too, with the reason in words. The operations
check the same rules again (they are the last word); this module only keeps the console
from offering what they would refuse.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from alerts.errors import DomainError, Forbidden, InvalidTransition, TwoPersonRule
from alerts.i18n import N_
from alerts.notices.lifecycle import ALLOWED_STATUS_TRANSITIONS, LIVE
from alerts.notices.models import Notice, NoticeStatus, RevisionState
from alerts.notices.operations import revision_authors
from alerts.operators.models import Operator, Role

S = NoticeStatus
R = RevisionState

#: Every console action on one notice, in the order buttons show.
ACTIONS = (
    "edit",
    "submit",
    "return-to-draft",
    "approve",
    "reject",
    "publish",
    "emergency-publish",
    "update",
    "all-clear",
    "withdraw",
)

WRITERS = (Role.AUTHOR, Role.APPROVER)


def _role(operator: Operator, *roles: Role) -> DomainError | None:
    if operator.can(*roles):
        return None
    return Forbidden(N_("Det här kräver rollen %(roles)s"), roles=roles)


def _state(notice: Notice, action: str) -> InvalidTransition:
    return InvalidTransition(
        N_("Kan inte %(action)s ett meddelande med status %(status)s"),
        action=action,
        status=notice.status,
    )


def refusal(
    session: Session, notice: Notice, operator: Operator, action: str
) -> DomainError | None:
    """Why ``operator`` may not do ``action`` with ``notice`` now, or None when they may."""
    waiting = notice.working_revision
    status = NoticeStatus(notice.status)
    if action in ("edit", "submit"):
        return _role(operator, *WRITERS) or (
            None
            if status == S.DRAFT
            else _state(notice, "submit" if action == "submit" else "update")
        )
    if action == "return-to-draft":
        return _role(operator, *WRITERS) or (
            None
            if status in (S.PENDING_APPROVAL, S.APPROVED)
            else _state(notice, "return to draft")
        )
    if action in ("approve", "reject"):
        if problem := _role(operator, Role.APPROVER):
            return problem
        if waiting is None or waiting.state not in (R.PENDING_APPROVAL, R.APPROVED):
            return _state(notice, action)
        if action == "approve" and waiting.state == R.APPROVED:
            return _state(notice, action)
        if action == "approve" and operator.id in revision_authors(session, notice, waiting):
            return TwoPersonRule(
                N_(
                    "Du skrev, redigerade eller skickade in det här; "
                    "en annan godkännare måste godkänna det"
                )
            )
        return None
    if action == "publish":
        if problem := _role(operator, *WRITERS):
            return problem
        if waiting is None or waiting.state != R.APPROVED:
            return TwoPersonRule(
                N_("Det här måste godkännas av en andra person innan det publiceras")
            )
        return None
    if action == "emergency-publish":
        if operator.role != Role.ADMIN or not operator.active:
            return Forbidden(
                N_("Bara en administratör får publicera utan godkännande, i ett nödläge")
            )
        if waiting is None or waiting.state == R.APPROVED:
            return _state(notice, "publish")
        return None
    if action == "update":
        if problem := _role(operator, *WRITERS):
            return problem
        if status not in LIVE:
            return _state(notice, "update")
        if waiting is not None:
            return InvalidTransition(
                N_("Revision %(number)s väntar redan; godkänn eller avslå den först"),
                number=waiting.number,
            )
        return None
    if action == "all-clear":
        return _role(operator, *WRITERS) or (
            None if status == S.ACTIVE else _state(notice, "cancel")
        )
    if action == "withdraw":
        # What nobody has received yet can be withdrawn where the lifecycle table allows it.
        withdrawable = status != S.ACTIVE and S.CANCELLED in ALLOWED_STATUS_TRANSITIONS[status]
        return _role(operator, *WRITERS) or (None if withdrawable else _state(notice, "cancel"))
    return _state(notice, action)


def may_write(operator: Operator) -> DomainError | None:
    """Why ``operator`` may not write notices, or None."""
    return _role(operator, *WRITERS)


def allowed(session: Session, notice: Notice, operator: Operator) -> list[str]:
    """The console actions ``operator`` may take on ``notice`` now."""
    return [a for a in ACTIONS if refusal(session, notice, operator, a) is None]


def waits_for(session: Session, notice: Notice, operator: Operator) -> bool:
    """Whether the notice waits for this operator: to approve it, or to publish it."""
    can = allowed(session, notice, operator)
    return "approve" in can or "publish" in can
