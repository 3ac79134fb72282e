"""The demo data a municipality sees after `varsla demo`."""

import numpy as np
import shapely

from geodata.addresses import read_addresses
from geodata.demo import (
    data_path,
    demo_addresses_csv,
    load_demo_zones,
    synthetic_addresses,
)
from geodata.matching import points_in_area_mask


def test_demo_zones_are_the_two_municipalities_and_five_water_zones():
    zones = {z.slug: z for z in load_demo_zones()}
    assert {s: z.kind for s, z in zones.items()} == {
        "motala": "municipality",
        "mora": "municipality",
        "motala-centrum": "water_supply",
        "borensberg": "water_supply",
        "mora-centrum": "water_supply",
        "gesunda": "water_supply",
        "bergkarlas": "water_supply",
    }
    assert zones["bergkarlas"].name == "Bergkarlås"
    assert zones["gesunda"].geometry.covers(shapely.Point(14.58, 60.88))
    assert zones["bergkarlas"].geometry.covers(shapely.Point(14.40, 60.93))
    for slug in ("motala-centrum", "borensberg"):
        assert zones["motala"].geometry.covers(zones[slug].geometry)
    for slug in ("mora-centrum", "gesunda", "bergkarlas"):
        assert zones["mora"].geometry.covers(zones[slug].geometry)


def test_synthetic_addresses_are_repeatable_and_inside_their_municipality():
    records = synthetic_addresses(300)
    assert records == synthetic_addresses(300)
    assert len(records) == 600
    zones = {z.slug: z.geometry for z in load_demo_zones()}
    for municipality, prefix in (("motala", "59"), ("mora", "792")):
        mine = [r for r in records if r.source_id.startswith(f"synthetic-{municipality}-")]
        assert len(mine) == 300
        lon = np.array([r.lon for r in mine])
        lat = np.array([r.lat for r in mine])
        assert points_in_area_mask(zones[municipality], lon, lat).all()
        assert all(r.postcode.startswith(prefix) for r in mine)
    borensberg = {r.postcode for r in records if r.city == "Borensberg"}
    assert borensberg <= {"59030", "59031"}


def test_shipped_file_is_the_generators_output_and_says_synthetic():
    text = data_path("demo_addresses.csv").read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC")
    assert text == demo_addresses_csv()
    readme = data_path("README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme


def test_a_good_share_of_demo_addresses_lies_in_each_water_zone():
    records = read_addresses(data_path("demo_addresses.csv").read_bytes()).records
    lon = np.array([r.lon for r in records])
    lat = np.array([r.lat for r in records])
    for zone in load_demo_zones():
        if zone.kind == "water_supply":
            assert points_in_area_mask(zone.geometry, lon, lat).sum() >= 100, zone.slug
