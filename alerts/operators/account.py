"""The operator's own account page: mobile number, password change and the TOTP second factor.

With ``VARSLA_REQUIRE_TOTP`` an admin without a second factor is sent here after the
password and can open nothing else until a code has confirmed enrolment
(:func:`alerts.operators.views.login_required`).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_wtf import FlaskForm

from alerts.config import settings
from alerts.errors import DomainError, ValidationFailed
from alerts.extensions import db
from alerts.operators import accounts, totp
from alerts.operators.auth import TooManyAttempts
from alerts.operators.views import login_required, must_enrol, remember_language
from alerts.web.labels import error_message, field_message

bp = Blueprint("operator_account", __name__, url_prefix="/console")
bp.after_request(remember_language)


def _errors(exc: ValidationFailed) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in exc.errors:
        found.setdefault(error.field, []).append(field_message(error))
    return found or {"form": [error_message(exc)]}


def _page(status: int = 200, **shown):
    operator = g.operator
    enrolment = None
    if operator.totp_secret and not operator.totp_enabled:
        uri = totp.provisioning_uri(operator, settings().org_name or "Varsla")
        enrolment = {
            "uri": uri,
            "secret": totp.grouped(operator.totp_secret),
            "qr": totp.qr_svg(uri, gettext("QR-kod för appen")),
        }
    shown.setdefault("errors", {})
    shown.setdefault("values", {})
    return (
        render_template(
            "console/account.html",
            operator=operator,
            enrolment=enrolment,
            must_enrol=must_enrol(operator),
            form=FlaskForm(),
            **shown,
        ),
        status,
    )


@bp.get("/account")
@login_required
def account():
    return _page()


@bp.post("/account")
@login_required
def account_action():
    """One form per action: ``do`` = phone, password, totp-start, totp-confirm."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    operator, form = g.operator, request.form
    client = request.remote_addr or "?"
    action = form.get("do", "")
    if must_enrol(operator) and action not in ("totp-start", "totp-confirm"):
        abort(403)
    try:
        if action == "phone":
            accounts.set_phone(db.session, operator, form.get("phone", ""))
            message = gettext("Mobilnumret är sparat.")
        elif action == "password":
            try:
                accounts.check_own_password(
                    db.session, operator, form.get("current_password", ""), client=client
                )
            finally:
                db.session.commit()  # a wrong password counts, like a failed login
            accounts.change_own_password(
                db.session, operator, form.get("new_password", ""), form.get("repeat_password", "")
            )
            message = gettext("Lösenordet är bytt. Dina andra inloggningar är utloggade.")
        elif action == "totp-start":
            totp.start_enrolment(db.session, operator)
            message = gettext("Lägg till kontot i appen och skriv sedan koden den visar.")
        elif action == "totp-confirm":
            try:
                totp.confirm_enrolment(db.session, operator, form.get("code", ""), client=client)
            finally:
                db.session.commit()  # a wrong code counts toward the throttle
            message = gettext("Tvåstegsverifiering är på.")
        else:
            abort(400)
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(422, errors=_errors(exc), values={"phone": form.get("phone", "")})
    except TooManyAttempts as exc:
        db.session.rollback()
        return _page(429, errors={"form": [error_message(exc)]})
    except DomainError as exc:
        db.session.rollback()
        return _page(409, errors={"form": [error_message(exc)]})
    # A new password ended every session of the operator's; this one carries on.
    session["session_version"] = operator.session_version
    flash(message, "ok")
    return redirect(url_for(".account"))
