"""The Flask extensions, created once here and attached to an app by ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_wtf import CSRFProtect

from alerts.db import Database

db = Database()
csrf = CSRFProtect()
babel = Babel()
