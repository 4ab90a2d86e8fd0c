"""Serving the app: gunicorn for `kb serve`, a single-process server for `kb start`.

Neither access log records a query string or a request body: search queries and form fields
carry customer details, so the logs name only method, path, status and duration.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from flask import Flask

# gunicorn atoms: %(m)s method, %(U)s path without the query string, %(s)s status, %(M)s milliseconds.
ACCESS_LOG_FORMAT = '%(t)s "%(m)s %(U)s" %(s)s %(M)sms'


def load_model_after_fork(worker) -> None:
    """gunicorn post_worker_init hook: each worker loads its own model and index after the fork, and
    starts its hand-off webhook sender."""
    from kb.errors import KBError

    try:
        _ = worker.wsgi.extensions["kb"].searcher  # loading it is the point
    except KBError as exc:  # the worker still serves; /readyz says why search is not ready
        worker.log.warning("search is not ready in worker %s: %s", worker.pid, exc)
    notifier = worker.wsgi.extensions.get("kb_notifier")
    if notifier is not None:
        notifier.start()  # the hand-off sender runs from the worker's start, not its first request
    sync = worker.wsgi.extensions.get("kb_index_sync")
    if sync is not None:
        sync.start()  # the index follows the published articles from the worker's start


def die_with_the_master(server, worker) -> None:
    """gunicorn post_fork hook: the kernel ends this worker when the master dies (even by kill -9),
    so no orphaned worker keeps the port and a restart can bind it at once (Linux prctl)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: gunicorn's own parent check still applies
        return
    if os.getppid() != server.pid:  # the master died before prctl took effect
        os._exit(0)


def gunicorn_options(host: str, port: int, workers: int) -> dict:
    """The gunicorn settings `kb serve` uses."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "post_fork": die_with_the_master,
        "post_worker_init": load_model_after_fork,
        "timeout": 120,  # loading the model in a fresh worker may take a while on a slow disk
        "graceful_timeout": 30,
        "control_socket_disable": True,  # no runtime control socket in the user's home (gunicorn >= 24)
    }


def run_gunicorn(app: Flask, host: str = "127.0.0.1", port: int = 8000, workers: int = 2) -> None:
    """Serve `app` with gunicorn until stopped. The app is built once; workers fork from it."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(host, port, workers).items():
                if key in self.cfg.settings:  # older gunicorn lacks the newest settings
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    Server().run()


def local_server(app: Flask, host: str = "127.0.0.1", port: int = 5000):
    """A threaded server for `kb start` (one process, one model), already listening on host:port.

    If the port is taken, werkzeug says so and exits here, before anything else happens.
    Call `serve_forever()` on the result; Ctrl-C stops it.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class PathOnlyHandler(WSGIRequestHandler):
        def version_string(self) -> str:
            return "firstline"  # the Server header names no versions

        def log_request(self, code="-", size="-") -> None:
            # A malformed request line leaves no command or path: still one short line, no traceback.
            path = urlsplit(getattr(self, "path", "") or "").path or "-"
            self.log("info", '"%s %s" %s', getattr(self, "command", None) or "-", path, getattr(code, "value", code))

    return make_server(host, port, app, threaded=True, request_handler=PathOnlyHandler)
