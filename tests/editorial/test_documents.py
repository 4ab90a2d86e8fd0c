"""Articles in the database: drafts, conflicts, the publish workflow, archive, restore, import/export."""

from __future__ import annotations

import pytest

from kb.editorial import documents as docs
from kb.editorial.documents import EditConflict, PublishRefused
from kb.errors import InvalidInput, LintFailed
from kb.identity.users import create_user
from tests.conftest import article_text, write_kb


@pytest.fixture
def editor(engine):
    return create_user(engine, "erik", "correct horse battery", "editor", display_name="Erik Editor")


@pytest.fixture
def second_editor(engine):
    return create_user(engine, "eva", "correct horse battery", "editor", display_name="Eva Editor")


@pytest.fixture
def seeded(engine, tmp_path):
    root = write_kb(tmp_path / "articles")
    docs.import_folder(engine, root)
    return root


def text(article_id="router-restart", lang="en", title="Restart the router", **kw):
    return article_text(article_id, lang, title, status="draft", **kw)


def test_import_is_idempotent_and_export_then_import_is_a_no_op(engine, seeded, tmp_path):
    files = sorted(p.relative_to(seeded) for p in seeded.rglob("*.md"))
    assert docs.import_folder(engine, seeded) == docs.ImportReport(0, 0, len(files))
    out = tmp_path / "export"
    assert docs.export_folder(engine, out) == len(files)
    assert sorted(p.relative_to(out) for p in out.rglob("*.md")) == files
    from kb.content.lint import lint_paths

    assert lint_paths([out], context_root=out) == []
    assert docs.import_folder(engine, out) == docs.ImportReport(0, 0, len(files))
    assert docs.publication_seq(engine) == len({p.stem for p in files})  # the first import only


def test_import_counts_added_and_changed_and_refuses_what_does_not_lint(engine, seeded):
    path = seeded / "en" / "dsl-no-sync.md"
    path.write_text(path.read_text().replace("Check the telephone cable", "Check the grey telephone cable"))
    assert docs.import_folder(engine, seeded).changed == 1
    (seeded / "nl" / "dsl-no-sync.md").write_text("---\nid: [broken\n---\n")
    with pytest.raises(LintFailed, match="nothing was imported"):
        docs.import_folder(engine, seeded)


def test_a_new_article_is_a_draft_until_both_languages_are_published(engine, seeded, editor):
    docs.save(engine, "router-restart", "en", text(), editor.id, "First version")
    assert docs.get_doc(engine, "router-restart", "en").status == "draft"
    with pytest.raises(PublishRefused) as refused:
        docs.publish(engine, "router-restart", editor.id)
    assert any("no Dutch version" in p.message for p in refused.value.problems)
    assert "router-restart" not in {a.id for a in docs.published_articles(engine)}
    docs.save(engine, "router-restart", "nl", text(lang="nl", title="Router herstarten"), editor.id, "NL")
    before = docs.publication_seq(engine)
    published = docs.publish(engine, "router-restart", editor.id)
    assert {d.status for d in published} == {"published"}
    assert docs.publication_seq(engine) == before + 1
    live = {(a.id, a.lang): a for a in docs.published_articles(engine)}
    assert live[("router-restart", "en")].status == "published"


def test_lint_problems_name_their_line(engine, seeded, editor):
    bad = text().replace("category: connectivity", "category: astrology")
    docs.save(engine, "router-restart", "en", bad, editor.id)
    docs.save(engine, "router-restart", "nl", text(lang="nl", title="Router"), editor.id)
    with pytest.raises(PublishRefused) as refused:
        docs.publish(engine, "router-restart", editor.id)
    (problem,) = [p for p in refused.value.problems if "category" in p.message]
    assert bad.splitlines()[problem.line - 1].startswith("category:")


def test_the_second_editor_to_save_is_told_and_nothing_is_overwritten(engine, seeded, editor, second_editor):
    opened = docs.get_doc(engine, "dsl-no-sync", "en").head
    mine = opened.text.replace("Check the telephone cable", "Check the grey cable")
    theirs = opened.text.replace("Remove any splitter", "Remove every splitter")
    docs.save(engine, "dsl-no-sync", "en", theirs, second_editor.id, "splitters", opened.id)
    with pytest.raises(EditConflict) as conflict:
        docs.save(engine, "dsl-no-sync", "en", mine, editor.id, "cable colour", opened.id)
    assert conflict.value.theirs.author_name == "Eva Editor" and "every splitter" in conflict.value.theirs.text
    assert conflict.value.base.id == opened.id
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    assert "every splitter" in head.text and "grey cable" not in head.text
    merged = conflict.value.theirs.text.replace("Check the telephone cable", "Check the grey cable")
    docs.save(engine, "dsl-no-sync", "en", merged, editor.id, "merged", conflict.value.theirs.id)
    assert "grey cable" in docs.get_doc(engine, "dsl-no-sync", "en").head.text


def test_editing_a_published_article_keeps_the_published_text_live(engine, seeded, editor):
    doc = docs.get_doc(engine, "dsl-no-sync", "en")
    docs.save(
        engine, "dsl-no-sync", "en", doc.head.text.replace("Remove any", "Take out any"), editor.id, "", doc.head.id
    )
    doc = docs.get_doc(engine, "dsl-no-sync", "en")
    assert doc.status == "draft" and doc.unpublished_changes
    live = {(a.id, a.lang): a for a in docs.published_articles(engine)}
    assert "Remove any" in live[("dsl-no-sync", "en")].text


def test_review_required_needs_a_second_editor(engine, seeded, editor, second_editor):
    doc = docs.get_doc(engine, "dsl-no-sync", "en")
    docs.save(engine, "dsl-no-sync", "en", doc.head.text + "\nOne more line.\n", editor.id, "", doc.head.id)
    with pytest.raises(PublishRefused, match="submit the article for review first"):
        docs.publish(engine, "dsl-no-sync", editor.id, review_required=True)
    docs.submit(engine, "dsl-no-sync", editor.id)
    assert docs.get_doc(engine, "dsl-no-sync", "en").status == "in_review"
    with pytest.raises(PublishRefused, match="Another editor"):
        docs.publish(engine, "dsl-no-sync", editor.id, review_required=True)
    docs.publish(engine, "dsl-no-sync", second_editor.id, review_required=True)
    live = {(a.id, a.lang): a for a in docs.published_articles(engine)}[("dsl-no-sync", "en")]
    assert live.get("reviewed_by") == "eva" and "One more line." in live.text


def test_archive_removes_from_search_and_restore_brings_an_old_text_back(engine, seeded, editor):
    docs.archive(engine, "dsl-no-sync", editor.id, "replaced by fibre")
    assert "dsl-no-sync" not in {a.id for a in docs.published_articles(engine)}
    assert docs.get_doc(engine, "dsl-no-sync", "en").status == "archived"
    history = docs.history(engine, "dsl-no-sync", "en")
    assert [e.action for e in history] == ["archive", "import"]
    head = docs.get_doc(engine, "dsl-no-sync", "en").head
    restored = docs.restore(engine, "dsl-no-sync", "en", history[-1].id, editor.id, head.id)
    assert restored.status == "draft" and restored.head.action == "restore"
    assert restored.head.text == docs.set_front_matter(history[-1].text, "status", "draft")


@pytest.mark.parametrize(
    "article_id, lang",
    [("../../etc/passwd", "en"), ("UPPER", "en"), ("a/b", "en"), ("ok-id", "de"), ("ok-id", "../en"), ("", "en")],
)
def test_ids_and_languages_that_try_to_escape_are_refused(engine, editor, article_id, lang):
    with pytest.raises(InvalidInput):
        docs.save(engine, article_id, lang, text(), editor.id)


@pytest.mark.parametrize(
    "body, message",
    [
        ("x" * 1_100_000, "at most"),
        ("\x00\x01binary", "binary"),
        ("   \n", "empty"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_bad_bodies_get_clear_messages(engine, editor, body, message):
    with pytest.raises(InvalidInput, match=message):
        docs.save(engine, "router-restart", "en", body, editor.id)


def test_a_bom_and_windows_line_ends_are_removed(engine, editor):
    doc = docs.save(engine, "router-restart", "en", "\ufeff" + text().replace("\n", "\r\n"), editor.id)
    assert not doc.head.text.startswith("\ufeff") and "\r" not in doc.head.text
