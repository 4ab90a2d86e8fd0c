"""Health checks for load balancers and orchestrators; no login needed."""

from __future__ import annotations

from flask import Blueprint, current_app

from webapp.security import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """Alive: the process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
@public
def readyz():
    """Ready: database reachable, index bundle loaded and current, model loaded."""
    from kb.errors import KBError
    from kb.search.bundle import current_path

    services = current_app.extensions["kb"]
    problems = []
    try:
        services.check_database()
    except Exception as exc:  # any driver error means not ready
        problems.append(f"database unreachable: {type(exc).__name__}")
    if not services.searcher_loaded:
        problems.append("model and index not loaded yet")
    else:
        searcher = services.searcher
        try:
            searcher.refresh()
            if searcher.bundle.path != current_path(services.index_root):
                problems.append(
                    f"published index bundle could not be loaded: {searcher.last_reload_error or 'unknown reason'}"
                )
        except (KBError, OSError) as exc:
            problems.append(f"index: {exc}")
    if problems:
        return {"status": "unavailable", "reasons": problems}, 503
    return {"status": "ready", "bundle": services.searcher.bundle.name, "model": services.searcher.embedder.name}
