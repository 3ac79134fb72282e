"""The public content version: a one-row counter bumped by every commit that changes
notices, their revisions or zones.

The bump runs in the writer's own transaction, just before it commits (a SQLAlchemy
``before_commit`` hook on every session of the process), so the counter's order is
the commits' order: a reader that saw counter *n* has seen every change committed
with a number up to *n*. (``max(updated_at)`` alone cannot promise that: a
transaction that set ``updated_at`` early and commits late — a publish that fans out
to many residents — could commit under a version a reader already cached.) The row
lock is held only for the commit itself. Writes made outside an ORM session (raw
SQL) do not bump it; :func:`alerts.public.readpath.content_version` also reads
``max(updated_at)`` of notices and zones for those.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import BigInteger, event, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from alerts.notices.models import Notice, NoticeRevision
from alerts.orm import Base
from alerts.places.models import Zone

logger = logging.getLogger(__name__)

_TOUCHED = "varsla_public_touched"
_WATCHED = (Notice, NoticeRevision, Zone)
_WATCHED_TABLES = frozenset(model.__table__.name for model in _WATCHED)  # type: ignore[attr-defined]


class PublicVersion(Base):
    """The one row (``id`` 1) whose ``counter`` grows with every public change."""

    __tablename__ = "public_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if any(isinstance(obj, _WATCHED) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_TOUCHED] = True


def _on_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        if table is not None and getattr(table, "name", None) in _WATCHED_TABLES:
            state.session.info[_TOUCHED] = True


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(_TOUCHED, False):
        return
    bumped = session.execute(
        update(PublicVersion)
        .where(PublicVersion.id == 1)
        .values(counter=PublicVersion.counter + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(bumped, "rowcount", 1):
        # The migration inserts the row; only an emptied table (tests) gets here.
        session.add(PublicVersion(id=1, counter=1))
        session.flush()


def _after_rollback(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def watch() -> None:
    """Bump the counter on every commit that changed public content (once per process)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_rollback", _after_rollback)
