"""Composing and sending notices per channel; imports neither Flask nor the app (``alerts``).

What lives here:

* ``base`` — the notice as channels see it (``NoticeSnapshot``), the push
  interface (``PushChannel.send(recipient, message) -> DeliveryResult``), and
  the one home of language fallback and local (Swedish) time;
* ``i18n``, ``labels``, ``templating`` — gettext catalogues of the
  ``channels`` domain (``translations/``), localised labels, Jinja2 templates
  (``templates/``);
* ``compose`` — push messages: ``compose.sms``, ``compose.email``;
* ``providers`` — senders: ``providers.twilio`` (and all of Twilio's codes),
  ``providers.smtp``, ``providers.local_outbox``;
* pull channels rendering to bytes: ``feeds`` (RSS/Atom), ``cap`` (CAP 1.2),
  ``banner`` (JSON, iframe HTML, ``static/banner.js``);
* ``gsm`` — GSM-7 alphabet and SMS part counting.

``sms``, ``email`` and ``local_outbox`` at the top level are deprecated
re-exports kept until ``alerts/`` imports the new homes.
"""
