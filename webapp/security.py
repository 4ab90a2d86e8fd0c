"""Access rules: every view declares who may use it; anything undeclared is refused (default deny)."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, g, jsonify, redirect, request, url_for

PUBLIC = "public"
# Role groups used by more than one blueprint (admin may always do everything).
SEARCH_ROLES = ("agent", "editor", "analyst")
CASE_ROLES = ("agent",)
EDITOR_ROLES = ("editor",)


def roles(*allowed: str) -> Callable:
    """Allow only signed-in users with one of these roles (admin is always allowed)."""

    def decorate(view):
        view.allowed_roles = frozenset(allowed) | {"admin"}
        return view

    return decorate


def public(view):
    """Allow anyone, signed in or not (login page, health checks)."""
    view.allowed_roles = frozenset({PUBLIC})
    return view


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
API_PREFIX = "/api/v1/"


def api_error(status: int, code: str, message: str, *, bearer: str | None = None, **extra):
    """The integration API's error: {"error": {"code": ..., "message": what to do, ...extra}}.

    `bearer` adds the WWW-Authenticate challenge of RFC 6750 (a 401 says how to authenticate)."""
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer realm="firstline-kb", error="{bearer}"' if bearer else "Bearer"
    return response


def is_api_v1() -> bool:
    return request.path.startswith(API_PREFIX)


def cross_site(request) -> bool:
    """A state-changing request whose Origin (or, without one, Referer) is another site."""
    from urllib.parse import urlsplit

    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == "null" or urlsplit(origin).netloc != request.host
    referer = request.headers.get("Referer")
    return referer is not None and urlsplit(referer).netloc != request.host


def enforce_access(app) -> None:
    """Install the before-request checks: same-site origin for changes, then each view's declared roles."""

    @app.before_request
    def _same_site_only():
        if g.get("auth") == "token":
            return None  # a bearer token is not sent by a browser on its own: no cross-site forgery
        if request.method not in SAFE_METHODS and cross_site(request):
            message = "This request came from another site and was refused; reload the page and try again."
            if is_api_v1():
                return api_error(403, "cross_site", message)
            if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
                return {"error": message}, 403
            return message + "\n", 403, {"Content-Type": "text/plain; charset=utf-8"}
        return None

    @app.before_request
    def _check_access():
        if request.endpoint is None:
            return None  # 404 follows
        if request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        allowed = getattr(view, "allowed_roles", None)
        if allowed is None:
            abort(403)  # a view without a declaration is nobody's
        if PUBLIC in allowed:
            return None
        user = g.get("user")
        if user is None and is_api_v1():
            return api_error(
                401,
                "unauthorized",
                "Send an API token as 'Authorization: Bearer <token>' (kb token create, or your settings page).",
            )
        if user is None:
            if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
                abort(401)
            # Only the path: a query string may carry customer data and must not travel in URLs.
            return redirect(url_for("auth.login", next=request.path))
        if user.role not in allowed:
            abort(403)
        return None
