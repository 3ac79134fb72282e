"""The console's account administration, for admins: operators (create, role, deactivate,
reset the password) and API keys (create, list, revoke).

The same operations as ``varsla operators`` and ``varsla apikeys``
(:mod:`alerts.operators.accounts`, :mod:`alerts.operators.auth`). A new password or key is
shown once, on the page that made it, and stored only hashed.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, g, render_template, request
from flask_babel import gettext
from flask_wtf import FlaskForm

from alerts.errors import DomainError, Forbidden
from alerts.extensions import db
from alerts.i18n import N_
from alerts.operators import accounts, totp
from alerts.operators.auth import create_api_key, create_operator
from alerts.operators.models import ApiKey, Operator, Role
from alerts.operators.views import login_required, remember_language
from alerts.web.labels import ROLE, error_message

bp = Blueprint("console_accounts", __name__, url_prefix="/console/admin")
bp.after_request(remember_language)


def _admin() -> None:
    if g.operator.role != Role.ADMIN:
        raise Forbidden(N_("Det här kräver rollen %(roles)s"), roles=(Role.ADMIN,))


def _page(status: int = 200, **shown):
    return (
        render_template(
            "console/accounts.html",
            operators=accounts.list_operators(db.session),
            keys=accounts.list_api_keys(db.session),
            roles=list(ROLE),
            form=FlaskForm(),
            **shown,
        ),
        status,
    )


@bp.get("/accounts")
@login_required
def account_list():
    _admin()
    return _page()


def _operator(operator_id: int) -> Operator:
    operator = db.session.get(Operator, operator_id)
    if operator is None:
        abort(404)
    return operator


@bp.post("/accounts")
@login_required
def account_action():
    """One form per action: ``do`` = create, role, deactivate, reset, totp-reset, key,
    revoke."""
    _admin()
    if not FlaskForm().validate_on_submit():
        abort(400)
    form, done = request.form, {}
    try:
        action = form.get("do", "")
        if action == "create":
            password = secrets.token_urlsafe(15)
            operator = create_operator(
                db.session, form.get("email", ""), role=form.get("role", ""), password=password
            )
            done = {"password_for": operator.email, "password": password}
        elif action == "role":
            operator = _operator(int(form.get("operator", 0)))
            if form.get("role") not in ROLE:
                abort(400)
            operator.role = Role(form["role"])
            accounts.end_sessions(operator)
            done = {
                "message": gettext("Rollen är ändrad; %(email)s loggas ut.", email=operator.email)
            }
        elif action == "deactivate":
            operator = _operator(int(form.get("operator", 0)))
            if operator.id == g.operator.id:
                abort(400)
            accounts.deactivate_operator(db.session, operator)
            done = {"message": gettext("%(email)s är avstängd.", email=operator.email)}
        elif action == "reset":
            operator = _operator(int(form.get("operator", 0)))
            done = {
                "password_for": operator.email,
                "password": accounts.reset_password(db.session, operator),
            }
        elif action == "totp-reset":
            operator = _operator(int(form.get("operator", 0)))
            totp.reset(db.session, operator)
            accounts.end_sessions(operator)
            done = {
                "message": gettext(
                    "Tvåstegsverifieringen för %(email)s är återställd; de ställer in den igen.",
                    email=operator.email,
                )
            }
        elif action == "key":
            operator = _operator(int(form.get("operator", 0)))
            done = {
                "key_for": operator.email,
                "key": create_api_key(db.session, operator, label=form.get("label", "")[:200]),
            }
        elif action == "revoke":
            key = db.session.get(ApiKey, int(form.get("key", 0)))
            if key is None:
                abort(404)
            accounts.revoke_api_key(db.session, key.prefix)
            done = {"message": gettext("Nyckeln %(prefix)s är återkallad.", prefix=key.prefix)}
        else:
            abort(400)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        return _page(422, error=error_message(exc))
    except ValueError:
        abort(400)
    return _page(**done)
