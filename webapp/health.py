"""Health checks for load balancers and orchestrators; no login needed."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app

from webapp.security import public

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@public
def healthz():
    """Alive: the process answers."""
    return {"status": "ok"}


@bp.get("/readyz")
@public
def readyz():
    """Ready: database reachable, index bundle loaded and current, model loaded."""
    from kb.errors import IndexMissing, KBError
    from kb.search.bundle import current_path

    services = current_app.extensions["kb"]
    problems = []
    try:
        services.check_database()
    except Exception as exc:  # any driver error means not ready
        problems.append(f"database unreachable: {type(exc).__name__}")
    else:
        try:
            services.check_writable()
        except Exception as exc:  # noqa: BLE001 - disk full, read-only file or standby server
            log.warning("readyz: database not writable: %s", exc)
            problems.append("database not writable: cases and notes cannot be saved (see the server log)")
    if not services.searcher_loaded:
        problems.append("model and index not loaded yet")
    else:
        searcher = services.searcher
        try:
            searcher.refresh()
            if searcher.bundle.path != current_path(services.index_root):
                log.warning("readyz: published bundle not loaded: %s", searcher.last_reload_error)
                problems.append("the published index bundle could not be loaded (see the server log)")
        except IndexMissing:
            problems.append("no index is published; run `kb index`")
        except (KBError, OSError) as exc:  # the details name files: for the log, not for anyone asking
            log.warning("readyz: index not ready: %s", exc)
            problems.append("the index cannot be read (see the server log)")
    if problems:
        return {"status": "unavailable", "reasons": problems}, 503
    return {"status": "ready", "bundle": services.searcher.bundle.name, "model": services.searcher.embedder.name}
