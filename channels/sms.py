"""Deprecated: the old home of SMS composing and the Twilio client, kept as re-exports.

Composing is :mod:`channels.compose.sms`, sending and Twilio's codes
:mod:`channels.providers.twilio`, the prefix :mod:`channels.labels`. This
module only keeps ``alerts/`` importable until it uses those; delete it with
its last importer.
"""

from __future__ import annotations

from channels.base import message_kind as message_kind
from channels.compose.sms import MAX_SEGMENTS as MAX_SEGMENTS
from channels.compose.sms import compose_sms as compose_sms
from channels.labels import prefix_for as prefix_for
from channels.providers.twilio import TWILIO_ERROR_OUTCOMES as TWILIO_ERROR_OUTCOMES
from channels.providers.twilio import TWILIO_STATUS_MAP as TWILIO_STATUS_MAP
from channels.providers.twilio import RebasedTwilioHttpClient as RebasedTwilioHttpClient
from channels.providers.twilio import TwilioSms as TwilioSms
from channels.providers.twilio import map_status_callback as map_status_callback
from channels.providers.twilio import outcome_for_error as outcome_for_error
from channels.providers.twilio import parse_retry_after as parse_retry_after
