"""geodata stays pure: no web or database imports, no reading outside the repository."""

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "geodata"


def test_geodata_imports_neither_flask_nor_sqlalchemy_nor_the_app():
    code = (
        "import sys, geodata.addresses, geodata.areas, geodata.crs, geodata.demo, "
        "geodata.matching, geodata.zones\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'alerts', 'channels'}]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_geodata_does_not_read_the_shared_folder():
    for path in PACKAGE.rglob("*.py"):
        assert "/work/shared" not in path.read_text(encoding="utf-8"), path
