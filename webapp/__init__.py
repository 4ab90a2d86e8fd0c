"""Firstline KB web app: `create_app` builds it; one blueprint per area."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, g, render_template
from flask_wtf.csrf import CSRFProtect

from webapp import i18n, logs
from webapp.security import enforce_access
from webapp.services import Services


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app. Settings come from test_config, then KB_* environment variables, then defaults."""
    logs.install()
    app = Flask(__name__, instance_path=os.environ.get("KB_INSTANCE") or None, instance_relative_config=True)
    _private_folder(Path(app.instance_path))
    app.config.from_mapping(
        KB_ARTICLES=os.environ.get("KB_ARTICLES", "articles"),
        KB_INDEX=os.environ.get("KB_INDEX", "index"),
        KB_MODEL=os.environ.get("KB_MODEL") or None,
        KB_DATABASE_URL=os.environ.get("KB_DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'firstline.db'}",
        KB_WEBHOOK_URL=os.environ.get("KB_WEBHOOK_URL") or None,
        # The language of escalation hand-offs: what the receiving teams read (nl or en).
        KB_HANDOFF_LANGUAGE=os.environ.get("KB_HANDOFF_LANGUAGE") or "nl",
        # Host names this server answers to (comma separated): others get 400, so no redirect or
        # link is ever built from a forged Host header. Unset: any host (fine behind a proxy that checks).
        TRUSTED_HOSTS=[h.strip() for h in os.environ.get("KB_TRUSTED_HOSTS", "").split(",") if h.strip()] or None,
        SECRET_KEY=os.environ.get("KB_SECRET_KEY") or _secret_from_instance(app),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("KB_HTTPS", "") == "1",
        # A session ends after KB_SESSION_HOURS (default 12) whatever happens, and after
        # KB_IDLE_MINUTES (default 120) without a request; both are checked on the server.
        KB_SESSION_HOURS=float(os.environ.get("KB_SESSION_HOURS") or 12),
        KB_IDLE_MINUTES=float(os.environ.get("KB_IDLE_MINUTES") or 120),
        PERMANENT_SESSION_LIFETIME=int(float(os.environ.get("KB_SESSION_HOURS") or 12) * 3600),
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=256 * 1024,
        # A form's CSRF token lasts a working day (KB_CSRF_HOURS, default 10), then the page is reloaded.
        WTF_CSRF_TIME_LIMIT=int(float(os.environ.get("KB_CSRF_HOURS") or 10) * 3600),
        BABEL_DEFAULT_LOCALE="en",
        LANGUAGES=("en", "nl"),
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY") and not (app.debug or app.testing):
        raise RuntimeError(
            "no secret key configured: set KB_SECRET_KEY or write one to "
            f"{Path(app.instance_path) / 'secret_key'} (`kb start` does this on first run)"
        )
    proxies = int(os.environ.get("KB_TRUSTED_PROXIES") or 0)
    if proxies > 0:  # behind N reverse proxies: the client's address comes from X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.extensions["kb"] = Services.from_config(app.config)
    i18n.init_app(app)
    enforce_access(app)
    csrf = CSRFProtect(app)  # after the access check: a signed-out user is sent to log in, not shown a token error
    _register_blueprints(app)
    from webapp import api_v1

    csrf.exempt(api_v1.bp)  # it checks the CSRF token itself, for session cookies only (not API tokens)
    _webhook_sender(app)
    _index_sync(app)
    _security_headers(app)
    _error_pages(app)
    return app


def _private_folder(path: Path) -> None:
    """The instance folder (secret key, SQLite database) is for its owner only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass  # not ours: the files in it are still created 0600


def _secret_from_instance(app: Flask) -> str | None:
    path = Path(app.instance_path) / "secret_key"
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def write_secret_key(instance_path: str | Path) -> Path:
    """Create a random secret key in the instance folder if there is none (first run)."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path


def _register_blueprints(app: Flask) -> None:
    from webapp import (
        admin,
        analytics,
        api,
        api_v1,
        articles,
        auth,
        cases,
        editor,
        health,
        outages,
        routing,
        search,
        supervisor,
        workspace,
    )

    workspace.init_app(app)
    editor.init_app(app)
    blueprints = (
        health,
        auth,
        admin,
        search,
        api,
        api_v1,
        articles,
        cases,
        editor,
        routing,
        analytics,
        supervisor,
        outages,
    )
    for module in blueprints:
        app.register_blueprint(module.bp)


def _index_sync(app: Flask) -> None:
    """This process's index follows what is published in the database (kb.editorial.sync): a thread
    per worker, started with it; off in tests unless KB_INDEX_SYNC is set in the test config."""
    from kb.editorial.sync import IndexSync

    services = app.extensions["kb"]

    def refreshed() -> None:
        if services.searcher_loaded:
            services.searcher.refresh()

    sync = IndexSync(
        services,
        services.index_root,
        embedder=lambda: services.embedder,
        poll_seconds=float(os.environ.get("KB_SYNC_SECONDS") or 1.0),
        on_built=refreshed,
    )
    app.extensions["kb_index_sync"] = sync

    def warm_gap_clusters() -> None:  # the editors' worklist clusters every recent gap once per process
        from kb.editorial.worklist import gap_clusters

        gap_clusters(services.engine, None, days=int(os.environ.get("KB_WORKLIST_DAYS") or 90))

    sync.after_first_check.append(warm_gap_clusters)
    if app.config.get("KB_INDEX_SYNC", not app.testing):
        app.before_request(sync.start)


def _webhook_sender(app: Flask) -> None:
    """The hand-off webhook sender: one thread per worker process, started on its first request."""
    from kb.integrations.sender import Notifier

    url = app.config.get("KB_WEBHOOK_URL")
    notifier = Notifier(app.extensions["kb"], enabled=bool(url), url=url or None)
    app.extensions["kb_notifier"] = notifier
    app.before_request(notifier.start)


def _security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if g.get("user") is not None:
            response.headers.setdefault("Cache-Control", "no-store")
        _relative_location(response)
        if app.config["SESSION_COOKIE_SECURE"]:  # KB_HTTPS=1: browsers keep to https for a year
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def _relative_location(response) -> None:
    """Redirects to this site carry a path only, never a host taken from the request's Host header
    (Werkzeug builds absolute URLs for its trailing-slash redirects)."""
    from urllib.parse import urlsplit, urlunsplit

    from flask import request

    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc == request.host:
            response.headers["Location"] = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


API_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    500: "server_error",
}


def _error_pages(app: Flask) -> None:
    def render(code: int, title: str, message: str):
        from flask import request
        from flask.globals import request_ctx

        if request.path.startswith("/api/v1/"):
            from webapp.security import api_error

            return api_error(code, API_CODES.get(code, "error"), message)
        if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
            return {"error": message}, code
        if request_ctx.url_adapter is None:  # refused before routing (a host not in KB_TRUSTED_HOSTS)
            return f"{title}: {message}\n", code, {"Content-Type": "text/plain; charset=utf-8"}
        return render_template("error.html", code=code, title=title, message=message), code

    app.register_error_handler(400, lambda e: render(400, "Bad request", getattr(e, "description", "")))
    app.register_error_handler(401, lambda e: render(401, "Sign in required", "Sign in to continue."))
    app.register_error_handler(
        403, lambda e: render(403, "Not allowed", "Your role does not give access to this page.")
    )
    app.register_error_handler(404, lambda e: render(404, "Not found", "There is no page at this address."))
    app.register_error_handler(413, lambda e: render(413, "Too large", "The request is too large; shorten the text."))
    app.register_error_handler(
        405, lambda e: render(405, "Method not allowed", "This address does not take that method; see the API's spec.")
    )
    app.register_error_handler(
        500,
        lambda e: render(
            500, "Something went wrong", "The error was logged. Try again; if it persists, tell your team lead."
        ),
    )
