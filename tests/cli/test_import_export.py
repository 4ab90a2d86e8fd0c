"""`kb import` and `kb export`: the articles folder format in and out of the database."""

from __future__ import annotations

from kb.cli import main
from tests.conftest import write_kb


def test_import_export_round_trip_is_a_no_op(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    articles = write_kb(tmp_path / "articles")
    files = len(list(articles.rglob("*.md")))
    assert main(["import", str(articles)]) == 0
    assert f"{files} added, 0 changed, 0 unchanged" in capsys.readouterr().out
    assert main(["import", str(articles)]) == 0
    assert f"0 added, 0 changed, {files} unchanged" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "out")]) == 0
    assert f"exported {files} published article file(s)" in capsys.readouterr().out
    assert main(["lint", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["import", str(tmp_path / "out")]) == 0
    assert f"0 added, 0 changed, {files} unchanged" in capsys.readouterr().out
    (tmp_path / "out" / "en" / "dsl-no-sync.md").write_text(
        (tmp_path / "out" / "en" / "dsl-no-sync.md").read_text().replace("Check the telephone", "Check the grey")
    )
    assert main(["import", str(tmp_path / "out")]) == 0
    assert f"0 added, 1 changed, {files - 1} unchanged" in capsys.readouterr().out


def test_import_refuses_a_folder_that_does_not_lint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    articles = write_kb(tmp_path / "articles")
    (articles / "en" / "dsl-no-sync.md").write_text("---\nid: dsl-no-sync\nlang: en\ncategory: astrology\n---\n")
    assert main(["import", str(articles)]) == 2
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "dsl-no-sync.md" in err
