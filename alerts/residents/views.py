"""The resident's pages: sign up, type the SMS code, confirm the email, manage, unsubscribe,
ask for a manage link, and the privacy notice.

They use the public layout and its rules (Swedish by default, ``?lang=en``,
the strict Content-Security-Policy: the scripts are static files), and call
the same operations as the JSON API. A form with a problem is shown again
with each message linked to its field. Every form that changes something
either carries the resident's secret link in its URL or does what the open
API does, so these forms need no session cookie.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from alerts.config import settings
from alerts.errors import DomainError, FieldError, NotFound, ValidationFailed
from alerts.extensions import db
from alerts.public import pages as public_pages
from alerts.residents import manage, signup
from alerts.residents.api import client_ip, verify_phone_code
from alerts.residents.contacts import display_phone, email_address, mobile_number
from alerts.residents.limits import RateLimited
from alerts.residents.models import CATEGORIES, Subscriber
from alerts.residents.optout import opt_out
from alerts.residents.outgoing import send_all
from alerts.residents.tokens import (
    ExpiredLink,
    pending_token,
    read_email_token,
    read_pending_token,
)
from channels.base import LOCAL_TZ, local_time
from channels.labels import category_label

logger = logging.getLogger(__name__)

bp = Blueprint("residents", __name__)
# The public pages' rules: CSP and headers, the layout's helpers.
bp.after_request(public_pages._public_headers)
bp.context_processor(public_pages._template_helpers)


@bp.context_processor
def _resident_helpers() -> dict[str, Any]:
    config = settings()
    lang = public_pages.current_lang()
    return {
        "org_name": config.org_name,
        "org_contact": config.org_contact,
        "categories": [(c, category_label(c, lang)) for c in CATEGORIES],
        "display_phone": display_phone,
        "map_tile_url": config.tile_url,
        "local_time": local_time,
    }


def _errors_of(exc: DomainError) -> dict[str, str]:
    errors: list[FieldError] = exc.errors or [FieldError("form", exc.detail)]
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field.split(".")[0], error.message)
    return found


#: The sign-up form's fields as the page shows them, so the error summary lists them so.
_SIGNUP_FIELDS = ["address", "address_id", "phone", "email", "categories"]


def _page_order(field: str) -> int:
    return _SIGNUP_FIELDS.index(field) if field in _SIGNUP_FIELDS else len(_SIGNUP_FIELDS)


def _too_many(exc: RateLimited, template: str, **context: Any) -> Response:
    response = Response(
        render_template(template, errors={exc.errors[0].field if exc.errors else "form": exc.detail},
                        **context),
        status=429,
    )  # fmt: skip
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


# ------------------------------------------------------------------------- sign up


def _language(value: str | None) -> str:
    return value if value in ("sv", "en") else "sv"


def _form_categories() -> list[str] | None:
    """The categories ticked; None (all) when the form had no choice of them."""
    chosen = [c for c in request.form.getlist("categories") if c in CATEGORIES]
    if not chosen and "categories_shown" not in request.form:
        return None
    return None if set(chosen) == set(CATEGORIES) else chosen


def _register_id(text: str | None) -> int | None:
    """The register address a form chose. None when it chose none (or sent something that
    is no number: the typed address decides), 0 for a number no address can have, so the
    resident hears that the address is unknown rather than meet a database error."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 10 else 0


@bp.get("/subscribe")
def subscribe_form() -> str:
    """The sign-up form: address with autocomplete and a map, contacts, language, categories."""
    return render_template("residents/subscribe.html", form={}, errors={}, suggestions=[])


@bp.post("/subscribe")
def subscribe() -> Any:
    form = request.form
    config = settings()
    # A suggestion the resident picked after a misspelt address wins over what was typed.
    address_id = _register_id(form.get("address_choice") or form.get("address_id"))
    try:
        checked = signup.check_request(
            db.session,
            config,
            address=form.get("address", ""),
            address_id=address_id,
            phone=form.get("phone", "").strip() or None,
            email=form.get("email", "").strip() or None,
            language=_language(form.get("language")),
            categories=_form_categories(),
        )
        result = signup.subscribe(db.session, config, checked, source="web", ip=client_ip())
    except RateLimited as exc:
        db.session.rollback()
        return _too_many(exc, "residents/subscribe.html", form=form, suggestions=[])
    except ValidationFailed as exc:
        db.session.rollback()
        suggestions = getattr(exc, "suggestions", None) or []
        errors = _errors_of(exc)
        errors = {f: errors[f] for f in sorted(errors, key=_page_order)}
        body = render_template(
            "residents/subscribe.html", form=form, errors=errors, suggestions=suggestions
        )
        return Response(body, status=422)
    token = pending_token(config.secret_key, result.subscriber.id)
    db.session.commit()
    send_all(result.outgoing)
    return redirect(url_for("residents.verify_form", token=token), code=303)


def _pending(token: str) -> Subscriber:
    subscriber_id = read_pending_token(settings().secret_key, token)
    subscriber = db.session.get(Subscriber, subscriber_id) if subscriber_id else None
    if subscriber is None:
        raise NotFound(_("Sidan gäller inte längre. Anmäl dig igen."))
    return subscriber


@bp.get("/subscribe/verify/<token>")
def verify_form(token: str) -> str:
    """Where a new sign-up types the SMS code (and reads that an email is on its way)."""
    return render_template(
        "residents/verify.html", subscriber=_pending(token), token=token, errors={}
    )


@bp.post("/subscribe/verify/<token>")
def verify(token: str) -> Any:
    subscriber = _pending(token)
    if subscriber.phone is None or subscriber.phone_verified_at is not None:
        return redirect(url_for("residents.verify_form", token=token), code=303)
    phone = subscriber.phone
    try:
        kept = verify_phone_code(phone, request.form.get("code", ""))
    except RateLimited as exc:
        return _too_many(exc, "residents/verify.html", subscriber=_pending(token), token=token)
    except ValidationFailed as exc:
        body = render_template(
            "residents/verify.html", subscriber=_pending(token), token=token,
            errors=_errors_of(exc),
        )  # fmt: skip
        return Response(body, status=422)
    return render_template(
        "residents/active.html", subscriber=kept, manage_url=signup.manage_url(settings(), kept)
    )


@bp.post("/subscribe/verify/<token>/resend")
def resend_code(token: str) -> Any:
    """A new code (the old one stops working), within the same limits as the first."""
    from alerts.residents import limits

    subscriber = _pending(token)
    config = settings()
    if subscriber.phone is None or subscriber.phone_verified_at is not None:
        return redirect(url_for("residents.verify_form", token=token), code=303)
    lims = limits.verification_limits(
        ip=client_ip(), phone=subscriber.phone, budget=config.verify_budget
    )
    try:
        limits.check(db.session, config.secret_key, lims)
        limits.spend(db.session, config.secret_key, lims)
    except RateLimited as exc:
        db.session.rollback()
        return _too_many(exc, "residents/verify.html", subscriber=_pending(token), token=token)
    from alerts.orm import utcnow

    outgoing = [signup.code_sms(db.session, config, subscriber, utcnow())]
    db.session.commit()
    send_all(outgoing)
    return render_template(
        "residents/verify.html", subscriber=subscriber, token=token, errors={}, resent=True
    )


# ------------------------------------------------------------------- email confirmation


def _email_link(token: str) -> tuple[int, str]:
    try:
        parsed = read_email_token(settings().secret_key, token)
    except ExpiredLink:
        raise NotFound(_("Länken har gått ut. Anmäl dig igen så skickar vi en ny.")) from None
    if parsed is None:
        abort(404)
    return parsed


@bp.get("/subscriptions/confirm/<token>")
def confirm_email_form(token: str) -> str:
    """The page the verification email links to: a GET only shows the button (mail scanners
    open links; only the resident's press confirms)."""
    _subscriber_id, email = _email_link(token)
    return render_template("residents/confirm_email.html", email=email, token=token)


@bp.post("/subscriptions/confirm/<token>")
def confirm_email(token: str) -> str:
    subscriber_id, email = _email_link(token)
    kept = signup.confirm_email(db.session, subscriber_id, email)
    db.session.commit()
    return render_template(
        "residents/active.html", subscriber=kept, manage_url=signup.manage_url(settings(), kept)
    )


# ----------------------------------------------------------------------- manage link


@bp.get("/subscriptions/link")
def link_form() -> str:
    return render_template("residents/link.html", form={}, errors={}, sent=False)


@bp.post("/subscriptions/link")
def link() -> Any:
    config = settings()
    contact = request.form.get("contact", "").strip()
    try:
        if not contact:
            raise ValidationFailed.on(
                "contact", _("Skriv ditt mobilnummer eller din e-postadress.")
            )
        if "@" in contact:
            phone, email = None, email_address(contact, field="contact")
        else:
            phone, email = mobile_number(contact, config.sms_country_codes, field="contact"), None
        outgoing = signup.request_manage_link(
            db.session, config, phone=phone, email=email, ip=client_ip()
        )
    except RateLimited as exc:
        db.session.rollback()
        return _too_many(exc, "residents/link.html", form=request.form, sent=False)
    except ValidationFailed as exc:
        db.session.rollback()
        body = render_template(
            "residents/link.html", form=request.form, errors=_errors_of(exc), sent=False
        )
        return Response(body, status=422)
    db.session.commit()
    send_all(outgoing)
    return render_template("residents/link.html", form={}, errors={}, sent=True)


# ---------------------------------------------------------------------------- manage


def _subscriber(token: str) -> Subscriber:
    return manage.subscriber_for_token(db.session, settings().secret_key, token)


def _manage_page(
    subscriber: Subscriber, token: str, *, errors: dict[str, str] | None = None,
    saved: str = "", status: int = 200, form: Any = None, prefs: Any = None,
) -> Response:  # fmt: skip
    body = render_template(
        "residents/manage.html",
        subscriber=subscriber,
        token=token,
        errors=errors or {},
        saved=saved,
        form=form or {},
        prefs=prefs,
        paused=subscriber.paused_until is not None
        and subscriber.paused_until > datetime.now(LOCAL_TZ),
    )
    return Response(body, status=status)


@bp.get("/subscriptions/<token>")
def manage_page(token: str) -> Response:
    """Everything a resident can change, download or delete."""
    return _manage_page(_subscriber(token), token, saved=request.args.get("saved", ""))


def _saved(token: str, what: str) -> Response:
    response = redirect(url_for("residents.manage_page", token=token, saved=what), code=303)
    return response  # type: ignore[return-value]


def _pause_date(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise ValidationFailed.on("paused_until", _("Skriv datumet som ÅÅÅÅ-MM-DD.")) from None
    # The pause lasts through the chosen day, Swedish time.
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ)


@bp.post("/subscriptions/<token>/preferences")
def save_preferences(token: str) -> Response:
    subscriber = _subscriber(token)
    form = request.form
    try:
        manage.update_preferences(
            db.session,
            subscriber,
            language=_language(form.get("language")),
            categories=[c for c in form.getlist("categories") if c in CATEGORIES],
            sms=form.get("sms") == "on",
            email=form.get("email") == "on",
            paused_until=_pause_date(form.get("paused_until", "")),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        errors = _errors_of(exc)
        return _manage_page(_subscriber(token), token, errors=errors, status=422, prefs=form)
    db.session.commit()
    return _saved(token, "preferences")


@bp.post("/subscriptions/<token>/addresses")
def add_address(token: str) -> Response:
    subscriber = _subscriber(token)
    address_id = _register_id(request.form.get("address_id"))
    try:
        place = signup.find_place(
            db.session,
            address=request.form.get("address", ""),
            address_id=address_id,
        )
        manage.add_address(db.session, subscriber, place)
    except ValidationFailed as exc:
        db.session.rollback()
        return _manage_page(
            _subscriber(token), token, errors={"address": _errors_of(exc).popitem()[1]},
            status=422, form=request.form,
        )  # fmt: skip
    db.session.commit()
    return _saved(token, "address_added")


@bp.post("/subscriptions/<token>/addresses/<int:location_id>/remove")
def remove_address(token: str, location_id: int) -> Response:
    subscriber = _subscriber(token)
    try:
        manage.remove_address(db.session, subscriber, location_id)
    except ValidationFailed as exc:
        db.session.rollback()
        return _manage_page(_subscriber(token), token, errors=_errors_of(exc), status=422)
    db.session.commit()
    return _saved(token, "address_removed")


@bp.post("/subscriptions/<token>/contact")
def add_contact(token: str) -> Response:
    subscriber = _subscriber(token)
    config = settings()
    form = request.form
    try:
        phone = form.get("phone", "").strip()
        email = form.get("email", "").strip()
        outgoing = manage.add_contact(
            db.session,
            config,
            subscriber,
            phone=mobile_number(phone, config.sms_country_codes) if phone else None,
            email=email_address(email) if email else None,
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _manage_page(
            _subscriber(token), token, errors=_errors_of(exc), status=422, form=form
        )
    db.session.commit()
    send_all(outgoing)
    if subscriber.phone and subscriber.phone_verified_at is None:
        from alerts.residents.tokens import pending_token as _pending_token

        return redirect(  # type: ignore[return-value]
            url_for(
                "residents.verify_form", token=_pending_token(config.secret_key, subscriber.id)
            ),
            code=303,
        )
    return _saved(token, "contact_added")


@bp.post("/subscriptions/<token>/revoke")
def revoke(token: str) -> str:
    subscriber = _subscriber(token)
    outgoing = manage.revoke_links(db.session, settings(), subscriber)
    db.session.commit()
    send_all(outgoing)
    return render_template("residents/revoked.html", subscriber=subscriber)


@bp.get("/subscriptions/<token>/export.json")
def export(token: str) -> Response:
    """Everything held about the resident, as a JSON download."""
    subscriber = _subscriber(token)
    data = manage.export_data(db.session, subscriber)
    response = Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="varsla-mina-uppgifter.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/subscriptions/<token>/delete")
def delete_form(token: str) -> str:
    return render_template("residents/delete.html", subscriber=_subscriber(token), token=token)


@bp.post("/subscriptions/<token>/delete")
def delete(token: str) -> str:
    subscriber = _subscriber(token)
    manage.delete_everything(db.session, subscriber)
    db.session.commit()
    return render_template("residents/deleted.html")


# ----------------------------------------------------------------------- unsubscribe


def _unsubscribe_token(token: str) -> tuple[int, str]:
    from alerts.dispatch.messages import read_unsubscribe_token

    parsed = read_unsubscribe_token(settings().secret_key, token)
    if parsed is None:
        abort(404)
    return parsed


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> str:
    """One button: a GET must not unsubscribe (link scanners follow links)."""
    _subscriber_id, channel = _unsubscribe_token(token)
    return render_template("residents/unsubscribe.html", done=False, channel=channel)


@bp.post("/u/<token>")
def unsubscribe(token: str) -> str:
    """One-click unsubscribe (RFC 8058 POST from a mail provider, or the page's button)."""
    subscriber_id, channel = _unsubscribe_token(token)
    opt_out(db.session, channel=channel, subscriber_id=subscriber_id, source="email_link")
    db.session.commit()
    logger.info("subscriber %s unsubscribed from %s", subscriber_id, channel)
    return render_template("residents/unsubscribe.html", done=True, channel=channel)


# --------------------------------------------------------------------------- privacy


@bp.get("/privacy")
def privacy() -> str:
    """The privacy notice: what is held, why, for how long, whom to ask."""
    config = settings()
    return render_template(
        "residents/privacy.html",
        retention_days=int(config.delivery_retention_days),
        text_version=signup.CONSENT_TEXT_VERSION,
    )
