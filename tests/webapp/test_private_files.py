"""The instance folder holds the secret key and the SQLite database: for its owner only."""

from __future__ import annotations

from webapp import create_app, write_secret_key


def test_instance_folder_and_secret_key_are_private(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("KB_INSTANCE", str(instance))
    key = write_secret_key(instance)
    create_app({"TESTING": True, "KB_DATABASE_URL": f"sqlite:///{instance / 'firstline.db'}"})
    assert instance.stat().st_mode & 0o777 == 0o700
    assert key.stat().st_mode & 0o777 == 0o600


def test_an_existing_open_instance_folder_is_closed(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    monkeypatch.setenv("KB_INSTANCE", str(instance))
    create_app({"TESTING": True, "SECRET_KEY": "x"})
    assert instance.stat().st_mode & 0o777 == 0o700
