"""Benchmark: recipients of an area among 1,000,000 subscriber points, and address autocomplete.

Run: ``.venv/bin/python bench/targeting.py [--points N] [--addresses N]``

It builds its own databases (a temporary SQLite file, and a fresh database on
the PostgreSQL server at ``VARSLA_BENCH_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, dropped at the
end), migrates them with ``alerts.migrate``, bulk-loads the points, then:

1. times ``alerts.targeting.subscriber_ids_in_area`` for areas holding about
   5 % and about 50 % of the points (median of several runs) on each engine;
2. times the naive way on the same data in the same run: every point read,
   then one shapely ``contains`` per point (on a sample, extrapolated and
   labelled so, when a full pass would take over a minute);
3. times ``alerts.addresses.autocomplete`` over a 500,000-address register
   (median and 95th percentile of a mix of typed queries).

Goals on the 2-core reference machine: 5 % of 1 M resolved in under 1 s;
autocomplete median under 20 ms. The figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import math
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, mapping
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alerts.db import make_engine
from alerts.migrate import upgrade
from alerts.places.register import autocomplete, forget_street_matchers, street_matcher
from alerts.places.targeting import subscriber_ids_in_area
from geodata.address_text import city_key, street_key

logger = logging.getLogger(__name__)

PG_ADMIN_URL = os.environ.get(
    "VARSLA_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Points lie in a 2° x 2° box in Dalarna (about 110 x 220 km): the size of a large county.
BOX_LON_LAT = (14.0, 60.0, 16.0, 62.0)
RUNS = 5
NAIVE_BUDGET_S = 60.0
NOW = "2026-01-01 00:00:00"


# --------------------------------------------------------------------------- data


def make_points(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points: half spread evenly over the box, half in 200 town-like clusters."""
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = BOX_LON_LAT
    uniform = n // 2
    lon = rng.uniform(min_lon, max_lon, n)
    lat = rng.uniform(min_lat, max_lat, n)
    towns_lon = rng.uniform(min_lon + 0.05, max_lon - 0.05, 200)
    towns_lat = rng.uniform(min_lat + 0.05, max_lat - 0.05, 200)
    town = rng.integers(0, 200, n - uniform)
    lon[uniform:] = np.clip(towns_lon[town] + rng.normal(0, 0.03, n - uniform), min_lon, max_lon)
    lat[uniform:] = np.clip(towns_lat[town] + rng.normal(0, 0.015, n - uniform), min_lat, max_lat)
    return np.round(lon, 6), np.round(lat, 6)


def blob(radius: float, vertices: int = 256) -> Polygon:
    """An irregular polygon (not a box: the bbox prefilter must not be the whole answer)."""
    cx = (BOX_LON_LAT[0] + BOX_LON_LAT[2]) / 2
    cy = (BOX_LON_LAT[1] + BOX_LON_LAT[3]) / 2
    theta = np.linspace(0, 2 * math.pi, vertices, endpoint=False)
    r = radius * (1 + 0.15 * np.sin(3 * theta + 0.5) + 0.07 * np.sin(7 * theta))
    return Polygon(np.column_stack([cx + r * np.cos(theta), cy + r * np.sin(theta)]))


def area_covering(share: float, lon: np.ndarray, lat: np.ndarray) -> Polygon:
    """A polygon holding about ``share`` of the points (bisection on its radius, on a sample)."""
    sample = np.random.default_rng(7).choice(lon.size, min(lon.size, 100_000), replace=False)
    low, high = 0.0, 1.2
    for _ in range(30):
        mid = (low + high) / 2
        inside = shapely.intersects_xy(blob(mid), lon[sample], lat[sample]).mean()
        low, high = (mid, high) if inside < share else (low, mid)
    return blob((low + high) / 2)


# --------------------------------------------------------------------------- loading


@contextlib.contextmanager
def indexes_dropped(engine: Engine, *tables: str) -> Iterator[None]:
    """Drop the secondary indexes of ``tables`` for a bulk load, and build them again after."""
    from alerts.models import Base

    indexes = [i for t in tables for i in Base.metadata.tables[t].indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)


def load_sqlite(engine: Engine, lon: np.ndarray, lat: np.ndarray) -> None:
    """Subscribers and one location each, with executemany in one transaction."""
    with indexes_dropped(engine, "subscribers", "subscriber_locations"):
        _load_sqlite(engine, lon, lat)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def _load_sqlite(engine: Engine, lon: np.ndarray, lat: np.ndarray) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")  # the ids are made consistent here
        n = lon.size
        cursor.executemany(
            "INSERT INTO subscribers (id, phone, language, legal_basis, source, verified_at, "
            "created_at, updated_at) VALUES (?, ?, 'sv', 'public_task', 'bench', ?, ?, ?)",
            ((i, f"+4670{i:07d}", NOW, NOW, NOW) for i in range(1, n + 1)),
        )
        cursor.executemany(
            "INSERT INTO subscriber_locations (id, subscriber_id, label, lon, lat, created_at) "
            "VALUES (?, ?, '', ?, ?, ?)",
            (
                (i + 1, i + 1, x, y, NOW)
                for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True))
            ),
        )
        raw.commit()
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        raw.close()


def _copy(raw: Any, statement: str, lines: Iterator[str]) -> None:
    """COPY text rows into PostgreSQL in 8 MB pieces."""
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            if buffer.tell() > 8_000_000:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def load_postgres(engine: Engine, lon: np.ndarray, lat: np.ndarray) -> None:
    """Subscribers and one location each, with COPY."""
    with indexes_dropped(engine, "subscribers", "subscriber_locations"):
        _load_postgres(engine, lon, lat)
    raw = engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        with raw.driver_connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE subscribers")
            cursor.execute("VACUUM ANALYZE subscriber_locations")
        raw.driver_connection.autocommit = False
    finally:
        raw.close()


def _load_postgres(engine: Engine, lon: np.ndarray, lat: np.ndarray) -> None:
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            # Skip the per-row foreign-key triggers: the ids are made consistent here.
            cursor.execute("SET session_replication_role = replica")
        n = lon.size
        _copy(
            raw.driver_connection,
            "COPY subscribers (id, phone, language, legal_basis, source, verified_at, "
            "created_at, updated_at) FROM STDIN",
            (
                f"{i}\t+4670{i:07d}\tsv\tpublic_task\tbench\t{NOW}+00\t{NOW}+00\t{NOW}+00\n"
                for i in range(1, n + 1)
            ),
        )
        _copy(
            raw.driver_connection,
            "COPY subscriber_locations (id, subscriber_id, label, lon, lat, created_at) FROM STDIN",
            (
                f"{i + 1}\t{i + 1}\t\t{x}\t{y}\t{NOW}+00\n"
                for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True))
            ),
        )
        raw.driver_connection.commit()
        with raw.driver_connection.cursor() as cursor:
            cursor.execute("SELECT setval('subscribers_id_seq', %s)", (n,))
            cursor.execute("SELECT setval('subscriber_locations_id_seq', %s)", (n,))
            cursor.execute("SET session_replication_role = DEFAULT")
        raw.driver_connection.commit()
    finally:
        raw.close()


# --------------------------------------------------------------------------- addresses

_STEMS_TEXT = (
    "Stor Kungs Drottning Vasa Kyrko Hamn Järnvägs Skol Platens Repslagare Folkunga "
    "Östermalms Svea Ek Björk Lind Kanal Borgmästare Präst Tings Hantverkare Zorn Mora "
    "Kristineberg Älvbro Läsar Millåker Badstu Köpmanna Norets Gesunda Sjö Fäbod "
    "Skidbacks Bergkarlås Hag Ås Myr Tall Gran Rönn Asp Al Sälg Hassel Lönn Ask Alm Vide "
    "En Ljung Blåbärs Lingon Hjortron Mossa Sol Måne Stjärn Norr Söder Väster Öster "
    "Mellan Ny Gamla Lill Stora Bruks Hytt Smedje Kvarn Såg Tegel Kalk Mal Silver Guld "
    "Koppar Järn Tenn Bly Kol Mjölnar Fiskar Jägar Skeppar Lots Fyr Strand Ängs Åker "
    "Skogs Berg Dal Backe Kulle Udde Vik Näs Holm"
)
_STREET_STEMS = tuple(_STEMS_TEXT.split())
_STREET_TYPES = ("gatan", "vägen", "stigen", "gränd", "backen", "allén", "torget", "leden")


def make_addresses(n: int, seed: int = 3) -> list[tuple]:
    """``n`` invented addresses: 250 towns, 50 streets each, house numbers along them."""
    rng = np.random.default_rng(seed)
    names = [s + t for s in _STREET_STEMS for t in _STREET_TYPES]
    towns = [f"Ort{i:03d}" for i in range(250)]
    per_street = max(1, n // (len(towns) * 50))
    rows: list[tuple] = []
    keys: dict[str, str] = {}
    for t, town in enumerate(towns):
        lon0 = rng.uniform(BOX_LON_LAT[0], BOX_LON_LAT[2])
        lat0 = rng.uniform(BOX_LON_LAT[1], BOX_LON_LAT[3])
        postcode = f"{100 + t * 3:03d}{rng.integers(10, 99):02d}"
        for street in rng.choice(names, 50, replace=False).tolist():
            key = keys.setdefault(street, street_key(street))
            for number in range(1, per_street + 1):
                letter = "B" if number % 13 == 0 else ""
                rows.append(
                    (
                        street,
                        number,
                        letter,
                        postcode,
                        town,
                        key,
                        city_key(town),
                        round(lon0 + rng.normal(0, 0.01), 6),
                        round(lat0 + rng.normal(0, 0.005), 6),
                        f"bench-{len(rows)}",
                    )
                )
                if len(rows) >= n:
                    return rows
    return rows


_ADDRESS_COLUMNS = (
    "street, number, letter, postcode, city, street_key, city_key, lon, lat, source_id, "
    "synthetic, created_at"
)


def load_addresses(engine: Engine, rows: list[tuple]) -> None:
    """Bulk-load the address register (executemany on SQLite, COPY on PostgreSQL)."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "sqlite":
            cursor = raw.cursor()
            cursor.executemany(
                f"INSERT INTO addresses ({_ADDRESS_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                ((*r, NOW) for r in rows),
            )
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        else:
            _copy(
                raw.driver_connection,
                f"COPY addresses ({_ADDRESS_COLUMNS}) FROM STDIN",
                ("\t".join(map(str, r)) + f"\tt\t{NOW}+00\n" for r in rows),
            )
            raw.driver_connection.commit()
            raw.driver_connection.autocommit = True
            with raw.driver_connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE addresses")
            raw.driver_connection.autocommit = False
    finally:
        raw.close()


def address_queries(rows: list[tuple], count: int = 300, seed: int = 5) -> list[str]:
    """What people type: full addresses, abbreviations, prefixes, misspellings, postcodes."""
    rng = np.random.default_rng(seed)
    queries = []
    for i in range(count):
        street, number, letter, postcode, town, *_ = rows[int(rng.integers(0, len(rows)))]
        kind = i % 6
        if kind == 0:
            queries.append(f"{street} {number}{letter}")
        elif kind == 1:
            short = street.replace("gatan", "g.").replace("vägen", "v.")
            queries.append(f"{short} {number} {letter}, {postcode[:3]} {postcode[3:]}".strip())
        elif kind == 2:
            queries.append(street[: int(rng.integers(3, len(street)))].lower())
        elif kind == 3:
            cut = int(rng.integers(2, len(street) - 2))
            queries.append(f"{street[:cut]}{street[cut + 1 :]} {number}")  # one letter dropped
        elif kind == 4:
            queries.append(f"{postcode[:3]} {postcode[3:]}")
        else:
            queries.append(f"{street} {number}, {town}")
    return queries


# --------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], Any], runs: int = RUNS) -> tuple[float, Any]:
    """Median wall time of ``runs`` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def naive_loop(engine: Engine, area: Polygon) -> tuple[float, str, int]:
    """Read every point, test each with one ``contains``; extrapolate from a sample if slow."""
    start = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT subscriber_id, lon, lat FROM subscriber_locations"
        ).fetchall()
    fetch_s = time.perf_counter() - start
    probe = rows[:20_000]
    start = time.perf_counter()
    for _sid, x, y in probe:
        area.contains(Point(x, y))
    per_point = (time.perf_counter() - start) / len(probe)
    if per_point * len(rows) <= NAIVE_BUDGET_S:
        start = time.perf_counter()
        found = {sid for sid, x, y in rows if area.contains(Point(x, y))}
        return fetch_s + time.perf_counter() - start, "measured on all points", len(found)
    sample = rows[:: max(1, len(rows) // 100_000)]
    start = time.perf_counter()
    hits = sum(1 for _sid, x, y in sample if area.contains(Point(x, y)))
    loop_s = (time.perf_counter() - start) * len(rows) / len(sample)
    label = f"EXTRAPOLATED from {len(sample):,} points"
    return fetch_s + loop_s, label, round(hits * len(rows) / len(sample))


def autocomplete_times(engine: Engine, queries: list[str]) -> tuple[float, float, float, int]:
    """Median and p95 of autocomplete (ms), the matcher build time (ms) and empty answers."""
    forget_street_matchers()
    with Session(engine) as session:
        start = time.perf_counter()
        street_matcher(session)
        build_ms = (time.perf_counter() - start) * 1000
        for q in queries[:20]:
            autocomplete(session, q)
        times = []
        empty = 0
        for q in queries:
            start = time.perf_counter()
            found = autocomplete(session, q)
            times.append((time.perf_counter() - start) * 1000)
            empty += not found
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], build_ms, empty


# --------------------------------------------------------------------------- engines


@contextlib.contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="varsla-bench-") as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.sqlite3")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def postgres_engine() -> Iterator[Engine | None]:
    try:
        admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # no server: say so and go on with SQLite alone
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}); skipping it")
        yield None
        return
    name = f"varsla_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_ADMIN_URL).set(database=name).render_as_string(False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def machine_info(pg: Engine | None) -> list[str]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    pg_version = "not available"
    if pg is not None:
        with pg.connect() as conn:
            pg_version = conn.execute(text("SHOW server_version")).scalar_one()
    return [
        f"CPU: {cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"PostgreSQL {pg_version}, shapely {shapely.__version__}, numpy {np.__version__}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--addresses", type=int, default=500_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench_start = time.perf_counter()

    lon, lat = make_points(args.points)
    areas = {share: area_covering(share, lon, lat) for share in (0.05, 0.50)}
    truth = {share: int(shapely.intersects_xy(a, lon, lat).sum()) for share, a in areas.items()}
    address_rows = make_addresses(args.addresses)
    queries = address_queries(address_rows)

    with sqlite_engine() as lite, postgres_engine() as pg:
        print("Varsla targeting and autocomplete benchmark")
        for line in machine_info(pg):
            print("  " + line)
        print(
            f"  {args.points:,} subscribers with one location each in a 2°x2° box "
            f"(half even, half in 200 towns); areas are irregular 256-gons"
        )
        engines = [("SQLite", lite, load_sqlite)]
        if pg is not None:
            engines.append(("PostgreSQL", pg, load_postgres))
        print("\nRecipients of an area (alerts.targeting.subscriber_ids_in_area, median of 5):")
        for label, engine, loader in engines:
            start = time.perf_counter()
            loader(engine, lon, lat)
            print(
                f"  {label}: loaded {args.points:,} points in {time.perf_counter() - start:.1f} s"
            )
            for share, area in areas.items():
                geojson = mapping(area)
                with Session(engine) as session:
                    seconds, found = median_time(
                        lambda g=geojson, s=session: subscriber_ids_in_area(s, g)
                    )
                ok = "ok" if len(found) == truth[share] else f"WRONG (expected {truth[share]:,})"
                print(
                    f"    area with {truth[share] / args.points:5.1%} of the points: "
                    f"{len(found):>9,} recipients in {seconds * 1000:8.1f} ms  [{ok}]"
                )
        print("\nNaive loop on the same SQLite data (read all points, one shapely contains each):")
        for share, area in areas.items():
            seconds, how, hits = naive_loop(lite, area)
            print(
                f"    area with {truth[share] / args.points:5.1%}: {seconds:8.1f} s "
                f"({how}; {hits:,} recipients)"
            )

        print(
            f"\nAddress autocomplete over {len(address_rows):,} addresses ({len(queries)} queries:"
        )
        print("  full, abbreviated with postcode, prefix, misspelled, postcode only, with town):")
        for label, engine, _loader in engines:
            start = time.perf_counter()
            load_addresses(engine, address_rows)
            load_s = time.perf_counter() - start
            median_ms, p95_ms, build_ms, empty = autocomplete_times(engine, queries)
            print(
                f"  {label}: median {median_ms:.1f} ms, p95 {p95_ms:.1f} ms "
                f"(street matcher built in {build_ms:.0f} ms; {empty} queries found nothing; "
                f"loaded in {load_s:.1f} s)"
            )
    print(f"\nWhole benchmark: {time.perf_counter() - bench_start:.0f} s")


if __name__ == "__main__":
    main()
