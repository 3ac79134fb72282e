"""Deprecated: the old home of email composing and the SMTP client, kept as re-exports.

Composing is :mod:`channels.compose.email`, sending :mod:`channels.providers.smtp`.
This module only keeps ``alerts/`` importable until it uses those; delete it
with its last importer.
"""

from __future__ import annotations

from channels.compose.email import compose_email as compose_email
from channels.providers.smtp import DKIM_HEADERS as DKIM_HEADERS
from channels.providers.smtp import SmtpEmail as SmtpEmail
