"""Operators signing in to the console: login, logout, and the check every console view makes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Email

from alerts.config import settings
from alerts.extensions import db
from alerts.operators import totp
from alerts.operators.accounts import end_sessions
from alerts.operators.auth import TooManyAttempts, authenticate
from alerts.operators.models import Operator, Role
from alerts.orm import utcnow
from alerts.web.labels import error_message
from alerts.web.templating import remember_language

bp = Blueprint("operators", __name__, url_prefix="/console")

#: How long the console remembers a language chosen with ``?lang=``.
bp.after_request(remember_language)


class LoginForm(FlaskForm):
    email = StringField(lazy_gettext("E-post"), validators=[DataRequired(), Email()])
    password = PasswordField(lazy_gettext("Lösenord"), validators=[DataRequired()])


class CodeForm(FlaskForm):
    code = StringField(lazy_gettext("Kod från appen"), validators=[DataRequired()])


#: What an admin who must enrol (``VARSLA_REQUIRE_TOTP``) may open before enrolling.
ENROLMENT_ENDPOINTS = ("operator_account.account", "operator_account.account_action")
#: How long the code step of a login waits after the password.
CODE_STEP_S = 300


def must_enrol(operator: Operator) -> bool:
    """An admin without a second factor where ``VARSLA_REQUIRE_TOTP`` asks for one."""
    return settings().require_totp and operator.role == Role.ADMIN and not operator.totp_enabled


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        operator_id = session.get("operator_id")
        operator = db.session.get(Operator, operator_id) if operator_id else None
        current = session.get("session_version") == operator.session_version if operator else False
        if operator is None or not operator.active or not current:
            return redirect(url_for("operators.login", next=request.path))
        g.operator = operator
        if must_enrol(operator) and request.endpoint not in ENROLMENT_ENDPOINTS:
            return redirect(url_for("operator_account.account"))
        return view(*args, **kwargs)

    return wrapper


def _target() -> str:
    target = request.args.get("next", "")
    if not target.startswith("/console") or target.startswith("//"):
        target = url_for("console.notice_list")
    return target


def _sign_in(operator: Operator, target: str):
    session.clear()
    session["operator_id"] = operator.id
    session["session_version"] = operator.session_version
    if must_enrol(operator):
        return redirect(url_for("operator_account.account"))
    return redirect(target)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            operator = authenticate(
                db.session, form.email.data, form.password.data, client=request.remote_addr or "?"
            )
        except TooManyAttempts as exc:
            db.session.rollback()
            response = make_response(
                render_template("console/login.html", form=form, error=error_message(exc)), 429
            )
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        db.session.commit()
        if operator is not None and operator.totp_enabled:
            # Not signed in yet: only the code step knows who is half-way through.
            session.clear()
            session["code_for"] = operator.id
            session["code_version"] = operator.session_version
            session["code_since"] = utcnow().timestamp()
            session["code_next"] = _target()
            return redirect(url_for("operators.login_code"))
        if operator is not None:
            return _sign_in(operator, _target())
        error = gettext("Fel e-post eller lösenord.")
    return render_template("console/login.html", form=form, error=error), 200 if not error else 401


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of a login with TOTP: the session is signed in only after the code."""
    operator_id = session.get("code_for")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    fresh = utcnow().timestamp() - float(session.get("code_since", 0)) < CODE_STEP_S
    if (
        operator is None
        or not operator.active
        or not fresh
        or session.get("code_version") != operator.session_version
    ):
        for key in ("code_for", "code_version", "code_since", "code_next"):
            session.pop(key, None)
        return redirect(url_for("operators.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            ok = totp.check_login_code(
                db.session, operator, form.code.data or "", client=request.remote_addr or "?"
            )
        except TooManyAttempts as exc:
            db.session.rollback()
            response = make_response(
                render_template("console/login_code.html", form=form, error=error_message(exc)),
                429,
            )
            response.headers["Retry-After"] = str(exc.retry_after_s)
            return response
        db.session.commit()
        if ok:
            return _sign_in(operator, session.get("code_next") or url_for("console.notice_list"))
        error = gettext("Koden stämmer inte eller är redan använd.")
    status = 401 if error else 200
    return render_template("console/login_code.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    """End this session and every other of the operator's: a copied cookie stops working."""
    operator_id = session.get("operator_id")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    if operator is not None and session.get("session_version") == operator.session_version:
        end_sessions(operator)
        db.session.commit()
    session.clear()
    return redirect(url_for("operators.login"))
