"""Fixtures for the public web side: zones, two operators and a newsroom that drives
notices through their lifecycle via the JSON API, as the console and machines do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from alerts.models import Notice
from tests.factories import (
    BERGKARLAS_BOX,
    api_headers,
    create_operator,
    create_zone,
    notice_payload,
)

HOSTILE_HEADLINE = 'Koka vattnet <script>alert(1)</script> "><img src=x onerror=alert(1)>'

BERGKARLAS_TEXTS = {
    "sv": {
        "headline": "Vattenavstängning i Bergkarlås",
        "description": "Ledningsarbete på Åsvägen stänger av vattnet.",
        "instruction": "Spara vatten i förväg.",
    },
    "en": {
        "headline": "Water shut-off in Bergkarlås",
        "description": "Pipe work on Åsvägen shuts off the water.",
        "instruction": "Store water in advance.",
    },
}


class Newsroom:
    """An author and an approver publishing notices through ``/api/v1``."""

    def __init__(self, client, author: dict[str, str], approver: dict[str, str]) -> None:
        self.client = client
        self.author = author
        self.approver = approver

    def _post(self, path: str, who: dict[str, str], body: dict | None = None, expect=200):
        response = self.client.post(f"/api/v1{path}", json=body or {}, headers=who)
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def draft(self, **overrides: Any) -> str:
        return self._post("/notices", self.author, notice_payload(**overrides), expect=201)["id"]

    def approve_and_publish(self, nid: str, **publish: Any) -> dict:
        self._post(f"/notices/{nid}/submit", self.author)
        self._post(f"/notices/{nid}/approve", self.approver)
        return self._post(f"/notices/{nid}/publish", self.approver, publish)

    def publish(self, **overrides: Any) -> str:
        """A new notice, approved and published now; answers its id."""
        nid = self.draft(**overrides)
        assert self.approve_and_publish(nid)["status"] == "active"
        return nid

    def update(self, nid: str, **changes: Any) -> dict:
        """Propose, approve and publish an update (a new revision, CAP Update)."""
        self._post(f"/notices/{nid}/update", self.author, changes)
        self._post(f"/notices/{nid}/approve", self.approver)
        return self._post(f"/notices/{nid}/publish", self.author)

    def propose_update(self, nid: str, **changes: Any) -> dict:
        return self._post(f"/notices/{nid}/update", self.author, changes)

    def all_clear(self, nid: str, texts: dict | None = None) -> dict:
        """Propose, approve and publish the all-clear (CAP Cancel)."""
        self._post(f"/notices/{nid}/cancel", self.author, {"texts": texts} if texts else {})
        self._post(f"/notices/{nid}/approve", self.approver)
        return self._post(f"/notices/{nid}/publish", self.approver)

    def schedule(self, **overrides: Any) -> str:
        nid = self.draft(**overrides)
        at = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert self.approve_and_publish(nid, at=at)["status"] == "scheduled"
        return nid


@pytest.fixture
def newsroom(session, client) -> Newsroom:
    create_zone(session)
    create_zone(session, "bergkarlas", "Bergkarlås", BERGKARLAS_BOX)
    author = api_headers(session, create_operator(session, "author", "author@test.varsla.se"))
    approver = api_headers(session, create_operator(session, "approver", "approver@test.varsla.se"))
    session.commit()
    return Newsroom(client, author, approver)


def age_notice(session, nid: str, *, days: float) -> None:
    """Move a notice's end (and last change) ``days`` into the past."""
    import uuid

    when = datetime.now(UTC) - timedelta(days=days)
    session.execute(
        update(Notice)
        .where(Notice.id == uuid.UUID(nid))
        .values(ended_at=when, updated_at=datetime.now(UTC))
    )
    session.commit()
