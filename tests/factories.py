"""Plain functions that build test data: ``create_operator(session, ...)`` and friends."""

from __future__ import annotations

from typing import Any

from shapely.geometry import box, mapping

from alerts.models import Operator, Zone
from alerts.operators.auth import create_api_key
from alerts.operators.auth import create_operator as _create_operator

PASSWORD = "correct horse battery staple"

# A square of about 2 x 2 km around Gesunda, Mora (lon/lat).
GESUNDA_BOX = (14.565, 60.875, 14.600, 60.893)
BERGKARLAS_BOX = (14.390, 60.925, 14.420, 60.940)


def create_operator(session, role: str = "author", email: str | None = None, **kw) -> Operator:
    email = email or f"{role}-{id(session) % 100000}-{len(session.new)}@test.varsla.se"
    return _create_operator(session, email, role=role, password=kw.pop("password", PASSWORD), **kw)


def create_zone(
    session,
    slug: str = "gesunda",
    name: str = "Gesunda",
    bounds: tuple[float, float, float, float] = GESUNDA_BOX,
    kind: str = "water_supply",
) -> Zone:
    geometry = box(*bounds)
    zone = Zone(
        slug=slug,
        name=name,
        kind=kind,
        geometry=mapping(geometry),
        min_lon=bounds[0],
        min_lat=bounds[1],
        max_lon=bounds[2],
        max_lat=bounds[3],
    )
    session.add(zone)
    session.flush()
    return zone


def api_headers(session, operator: Operator) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_key(session, operator)}"}


def notice_payload(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "water",
        "severity": "Severe",
        "urgency": "Immediate",
        "certainty": "Observed",
        "texts": {
            "sv": {
                "headline": "Koka vattnet i Gesunda",
                "description": "Bakterier har hittats i vattnet.",
                "instruction": "Koka vatten i minst en minut.",
            },
            "en": {
                "headline": "Boil water in Gesunda",
                "description": "Bacteria were found in the water.",
                "instruction": "Boil water for at least one minute.",
            },
        },
        "area": {"zones": ["gesunda"]},
        "channels": ["sms", "email", "feed", "banner"],
    }
    body.update(overrides)
    return body
