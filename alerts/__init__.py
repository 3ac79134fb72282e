"""Varsla, the application: a folder per feature, assembled by :func:`alerts.app.create_app`.

- ``notices/``   drafting, the two-person lifecycle, revisions, wording, audit
- ``places/``    zones, the address register, areas, targeting
- ``residents/`` subscribers, the register import, erasure
- ``dispatch/``  the delivery outbox, fan-out, workers, outcomes, webhooks
- ``public/``    public pages, feeds, CAP, the banner's data
- ``operators/`` accounts, login, API keys
- ``web/``       shared HTTP plumbing: problems, pagination, OpenAPI, health, layouts

Shared by all: ``config``, ``db``/``extensions``/``orm`` (the database), ``errors``,
``i18n`` (the catalogues outside a request), ``signals``,
``scheduling`` and ``cli``. A feature's ``__init__`` says what it may import. Translations
are ``translations/*.po`` (msgids in Swedish); see ``translations/README.md``.
"""
