"""Web fixtures after flaskr: `app`, `client`, `runner`, plus one signed-up user per role.

Each test gets its own SQLite file; the index is built once from the small test KB with the
fake embedder, and its Searcher is injected, so no model is ever loaded.
"""

from __future__ import annotations

import re
import time

import pytest

import kb.identity.users
from kb.identity.users import ROLES, create_user
from kb.search.bundle import build_index
from kb.search.searcher import Searcher
from kb.store.engine import upgrade
from tests.conftest import FakeEmbedder, write_kb
from webapp import create_app

PASSWORD = "correct horse battery"
USERNAMES = {"agent": "anna", "editor": "eddie", "analyst": "alex", "admin": "ada", "noc": "nora"}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture(scope="session")
def index_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-kb")
    build_index(write_kb(root / "articles"), root / "index", FakeEmbedder())
    return root / "index"


@pytest.fixture(scope="session")
def searcher(index_root):
    return Searcher(index_root, FakeEmbedder())


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch):
    # Full-cost scrypt makes every created user cost ~50 ms; verification reads the cost from the hash.
    monkeypatch.setattr(kb.identity.users, "SCRYPT_N", 2**4)
    monkeypatch.setattr(kb.identity.users, "_DUMMY_HASH", kb.identity.users.hash_password("unknown users' stand-in"))


@pytest.fixture
def make_app(tmp_path, monkeypatch, index_root, searcher):
    """`make_app(**config)`: an app on a fresh database; config overrides the test settings.

    `make_app(load_search=False)` leaves the searcher out, as in a worker that has not loaded the model.
    """
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    for name in ("KB_SECRET_KEY", "KB_DATABASE_URL", "KB_HTTPS"):
        monkeypatch.delenv(name, raising=False)
    apps = []

    def make(load_search: bool = True, **config):
        settings = {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.store.engine'}",
            "KB_INDEX": str(index_root),
        }
        app = create_app({**settings, **config})
        upgrade(app.extensions["kb"].engine)
        if load_search:
            app.extensions["kb"].use_searcher(searcher)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["kb_index_sync"].stop()
        app.extensions["kb"].engine.dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app):
    """One active user per role, all with PASSWORD: {"agent": User, ...}."""
    engine = app.extensions["kb"].engine
    return {
        role: create_user(engine, USERNAMES[role], PASSWORD, role, display_name=f"{role.title()} User")
        for role in ROLES
    }


def csrf_token(client, path: str = "/auth/login") -> str:
    """The CSRF token a page hands the browser (in <meta name="csrf-token">)."""
    return CSRF_META.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in_as(client, user) -> None:
    """Put `user` in the client's session without going through the form (as a log-in writes it)."""
    now = int(time.time())
    current = kb.identity.users.get_user(client.application.extensions["kb"].engine, user.id) or user
    with client.session_transaction() as session:
        session.update(user_id=user.id, gen=current.session_generation, signed_in_at=now, seen_at=now)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username: str = "anna", password: str = PASSWORD, next: str | None = None, **headers):
        data = {"username": username, "password": password}
        if next is not None:
            data["next"] = next
        return self._client.post("/auth/login", data=data, headers=headers)

    def logout(self):
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)
