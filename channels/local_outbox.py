"""Deprecated: the old home of :class:`~channels.providers.local_outbox.LocalOutbox`.

This module only keeps ``alerts/`` importable until it imports
``channels.providers.local_outbox``; delete it with its last importer.
"""

from __future__ import annotations

from channels.providers.local_outbox import LocalOutbox as LocalOutbox
