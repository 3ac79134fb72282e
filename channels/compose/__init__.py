"""Composing push messages: a notice snapshot in, a :class:`~channels.base.Message` out.

``compose.sms`` writes the SMS text, ``compose.email`` the subject, the plain
and HTML bodies and the list headers. Nothing here talks to a provider; the
senders are in :mod:`channels.providers`.
"""
