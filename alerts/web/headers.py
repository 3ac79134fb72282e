"""Security headers on every response, and what a reverse proxy in front may tell us.

Pages set their own Content-Security-Policy where they need something else (the
public pages may be framed by this origin; the banner fragment by any site);
everything else gets :func:`strict_csp`, which also forbids framing, so a logged-in
console cannot be clickjacked. Every page may load images from the map's tile server
(``VARSLA_TILE_URL``): the console's editor, notice and zone pages draw on that map too.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from alerts.config import settings


def tile_source(url: str) -> str:
    """The CSP source of a tile URL template: ``https://{s}.tile.x/…`` -> ``https://*.tile.x``."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def strict_csp(tile_url: str, *, frame_ancestors: str = "'none'") -> str:
    """No inline script or style anywhere, nothing from other origins but the map's
    tiles, framed by ``frame_ancestors`` only (by default never)."""
    tiles = tile_source(tile_url)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data:{' ' + tiles if tiles else ''}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


HSTS = "max-age=31536000; includeSubDomains"


def security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", strict_csp(settings().tile_url))
        if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:
            headers.setdefault("X-Frame-Options", "DENY")
    if settings().base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if request.method == "TRACE":
        # Nothing here answers TRACE; say what does (RFC 9110: a 405 lists the methods).
        headers["Allow"] = "GET, HEAD, POST, OPTIONS"
    return response


def init_app(app: Flask) -> None:
    """Headers on every response; the client's address and scheme from trusted proxies;
    ``Secure`` cookies when the public URL is HTTPS."""
    app.after_request(security_headers)
    config = settings(app)
    https = config.base_url.startswith("https://")
    app.config["SESSION_COOKIE_SECURE"] = https
    if config.trusted_proxies:
        # Only as many X-Forwarded-* hops as there are proxies of ours: a client cannot
        # pick its own address (login throttling is per client address) by sending one.
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n
        )
