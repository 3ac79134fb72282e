"""Pure geometry and places for Varsla.

Zone import and validation (:mod:`geodata.zones`), reprojection
(:mod:`geodata.crs`), the address register and geocoding
(:mod:`geodata.addresses`), notice areas (:mod:`geodata.areas`) and
point-in-area matching (:mod:`geodata.matching`).

This package imports neither Flask nor SQLAlchemy nor anything from
``alerts`` or ``channels``. Every geometry it hands out is in WGS 84
longitude/latitude order (``lon_lat``); metric work happens in
SWEREF 99 TM (EPSG:3006) internally.
"""
