"""An optional online geocoder speaking Nominatim's ``/search`` API (off by default).

The address register is the source of truth for who lives where; this
adapter only helps when an address is missing from it, and only if the
deployment configures it. The public nominatim.openstreetmap.org allows at
most one request per second, requires an identifying User-Agent and forbids
autocomplete use: call it for a submitted address, never per keystroke, and
prefer a self-hosted instance.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geodata.address_text import normalise_postcode, parse_house_number

logger = logging.getLogger(__name__)


class GeocoderError(RuntimeError):
    """The geocoder could not be asked or gave an answer that cannot be read."""


@dataclass(frozen=True)
class GeocodeResult:
    """One place found by the geocoder."""

    display_name: str
    lon: float
    lat: float
    street: str = ""
    number: int | None = None
    letter: str = ""
    postcode: str = ""
    city: str = ""
    osm_ref: str = ""


class NominatimGeocoder:
    """Ask a Nominatim-compatible service for an address's position.

    ``base_url`` is the service root (``https://nominatim.example.org``);
    ``user_agent`` identifies the deployment as the usage policy demands.
    Requests are spaced at least ``min_interval_s`` apart.
    """

    enabled_by_default = False

    def __init__(
        self,
        base_url: str,
        user_agent: str,
        *,
        timeout_s: float = 5.0,
        country_codes: Sequence[str] = ("se",),
        min_interval_s: float = 1.0,
        language: str = "sv,en",
    ) -> None:
        scheme = urllib.parse.urlsplit(base_url).scheme
        if scheme not in {"http", "https"}:
            raise ValueError(f"base_url must be http or https, not {base_url!r}")
        if not user_agent.strip():
            raise ValueError("user_agent must identify this deployment")
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent
        self.timeout_s = timeout_s
        self.country_codes = tuple(country_codes)
        self.min_interval_s = min_interval_s
        self.language = language
        self._lock = threading.Lock()
        self._last_request_s = 0.0

    def search(self, query: str, *, limit: int = 5) -> list[GeocodeResult]:
        """Search free text; return the places found, best first (an empty list if none)."""
        params = {"q": query, "format": "jsonv2", "addressdetails": "1", "limit": str(limit)}
        if self.country_codes:
            params["countrycodes"] = ",".join(self.country_codes)
        url = f"{self.base_url}/search?{urllib.parse.urlencode(params)}"
        request = urllib.request.Request(
            url,
            headers={
                "User-Agent": self.user_agent,
                "Accept": "application/json",
                "Accept-Language": self.language,
            },
        )
        self._wait_turn()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise GeocoderError(f"the geocoder answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GeocoderError(f"the geocoder could not be reached: {reason}") from exc
        try:
            items = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise GeocoderError("the geocoder's answer is not JSON") from exc
        if not isinstance(items, list):
            raise GeocoderError("the geocoder's answer is not a list of places")
        results = [r for r in (_result(item) for item in items) if r is not None]
        logger.info(
            "geocoder found %d place(s) for a query of %d characters", len(results), len(query)
        )
        return results

    def _wait_turn(self) -> None:
        """Sleep so that requests are at least ``min_interval_s`` apart."""
        with self._lock:
            wait_s = self._last_request_s + self.min_interval_s - time.monotonic()
            if wait_s > 0:
                time.sleep(wait_s)
            self._last_request_s = time.monotonic()


def _result(item: Any) -> GeocodeResult | None:
    """One Nominatim search result as a :class:`GeocodeResult` (``None`` if unusable)."""
    if not isinstance(item, dict):
        return None
    try:
        lon, lat = float(item["lon"]), float(item["lat"])
    except (KeyError, TypeError, ValueError):
        return None
    address = item.get("address") or {}
    try:
        number, letter = parse_house_number(str(address.get("house_number", "")))
    except ValueError:
        number, letter = None, ""
    try:
        postcode = normalise_postcode(str(address.get("postcode", "")))
    except ValueError:
        postcode = ""
    city = next(
        (
            str(address[k])
            for k in ("city", "town", "village", "hamlet", "municipality")
            if address.get(k)
        ),
        "",
    )
    osm_type, osm_id = item.get("osm_type"), item.get("osm_id")
    return GeocodeResult(
        display_name=str(item.get("display_name", "")),
        lon=lon,
        lat=lat,
        street=str(address.get("road", "")),
        number=number,
        letter=letter,
        postcode=postcode,
        city=city,
        osm_ref=f"{osm_type}/{osm_id}" if osm_type and osm_id else "",
    )
