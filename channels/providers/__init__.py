"""Providers that send a composed :class:`~channels.base.Message` to one recipient.

Each implements :class:`~channels.base.PushChannel` (``send(recipient, message)
-> DeliveryResult``, limits as class attributes, configured by its
constructor): ``twilio.TwilioSms`` (SMS through Twilio's SDK, and everything
about Twilio's error and status codes), ``smtp.SmtpEmail`` (email over SMTP)
and ``local_outbox.LocalOutbox`` (sends nothing; the embedded default).
"""
