"""Index bundle: self-description, embedding cache, atomic publish, crash safety, model checks."""

import json
import os

import pytest

import kb.search.bundle as bundle_mod
from kb.errors import IndexInvalid, IndexMissing, ModelMismatch
from kb.search.bundle import build_index, current_path, load_bundle
from kb.search.searcher import Searcher
from tests.conftest import FakeEmbedder


def test_bundle_describes_itself(small_kb, tmp_path, fake_embedder):
    report = build_index(small_kb, tmp_path / "index", fake_embedder)
    manifest = json.loads((report.path / "manifest.json").read_text())
    assert manifest["model"] == "fake-embedder" and manifest["dim"] == 64
    assert manifest["chunker_version"] == 1
    assert manifest["counts"]["articles"] == 8 and manifest["counts"]["article_ids"] == 4
    assert manifest["counts"]["chunks"] == report.chunks == len(load_bundle(report.path).chunks)
    assert manifest["counts"]["by_lang"] == {"nl": 4, "en": 4}
    assert set(manifest["article_hashes"]) == {
        f"{lang}/{i}"
        for lang in ("nl", "en")
        for i in ("dsl-no-sync", "email-password-reset", "escalate-to-tier2", "fiber-los-red-light")
    }
    assert "built_at" in manifest and manifest["files"]["vectors.faiss"]
    assert current_path(tmp_path / "index") == report.path


def test_editing_one_article_reembeds_only_its_changed_chunks(small_kb, tmp_path):
    embedder = FakeEmbedder()
    first = build_index(small_kb, tmp_path / "index", embedder)
    assert first.embedded == first.chunks == embedder.documents_embedded
    path = small_kb / "en" / "dsl-no-sync.md"
    path.write_text(path.read_text().replace("Remove any splitter", "Remove every splitter"))
    second = build_index(small_kb, tmp_path / "index", embedder)
    assert second.embedded == 1 and second.reused == second.chunks - 1
    assert embedder.documents_embedded == first.chunks + 1
    third = build_index(small_kb, tmp_path / "index", embedder)
    assert third.skipped and embedder.documents_embedded == first.chunks + 1


def test_old_bundle_keeps_serving_while_a_new_one_is_published(small_kb, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(small_kb, index, fake_embedder)
    searcher = Searcher(index, fake_embedder)
    old_name = searcher.bundle.name
    assert searcher.search("dsl light blinking").hits[0].article_id == "dsl-no-sync"
    old_bundle = searcher.bundle
    path = small_kb / "en" / "email-password-reset.md"
    path.write_text(path.read_text().replace("Reset an e-mail password", "Reset a mailbox password"))
    new = build_index(small_kb, index, fake_embedder)
    # The searcher still holds the old bundle object, which stays complete on disk.
    assert old_bundle.path.exists() and (old_bundle.path / "vectors.faiss").exists()
    assert new.name != old_name
    result = searcher.search("mailbox password")
    assert result.bundle == new.name
    assert result.hits[0].article_id == "email-password-reset"


def test_build_that_dies_midway_leaves_the_old_bundle_live(small_kb, tmp_path, fake_embedder, monkeypatch):
    index = tmp_path / "index"
    first = build_index(small_kb, index, fake_embedder)
    (small_kb / "en" / "dsl-no-sync.md").write_text(
        (small_kb / "en" / "dsl-no-sync.md").read_text().replace("telephone cable", "phone cable")
    )

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the BM25 index")

    monkeypatch.setattr(bundle_mod.BM25Index, "build", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(small_kb, index, fake_embedder)
    assert current_path(index) == first.path
    assert not list((index / "bundles").glob(".tmp-*"))
    searcher = Searcher(index, fake_embedder)
    assert searcher.bundle.name == first.name


def test_leftover_temporary_build_is_ignored_and_cleaned(small_kb, tmp_path, fake_embedder):
    index = tmp_path / "index"
    first = build_index(small_kb, index, fake_embedder)
    stale = index / "bundles" / ".tmp-20200101T000000-deadbeef"
    stale.mkdir()
    (stale / "chunks.jsonl").write_text("half written")
    assert Searcher(index, fake_embedder).bundle.name == first.name
    build_index(small_kb, index, fake_embedder, force=True)
    assert not stale.exists()


def test_damaged_bundle_is_refused_and_searcher_keeps_the_previous(small_kb, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(small_kb, index, fake_embedder)
    searcher = Searcher(index, fake_embedder)
    good = searcher.bundle.name
    second = build_index(small_kb, index, fake_embedder, force=True)
    with open(second.path / "vectors.faiss", "r+b") as fh:
        fh.seek(100)
        fh.write(b"garbage")
    with pytest.raises(IndexInvalid, match="vectors.faiss is missing or damaged; run `kb index`"):
        load_bundle(second.path)
    assert searcher.search("dsl").bundle == good
    assert "damaged" in searcher.last_reload_error


def test_model_mismatch_is_refused_with_what_to_do(small_kb, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(small_kb, index, fake_embedder)
    other = FakeEmbedder(name="another-model", dim=64)
    with pytest.raises(ModelMismatch) as err:
        Searcher(index, other)
    assert str(err.value) == (
        "the index was built with model 'fake-embedder' (64 dimensions) but the "
        "configured model is 'another-model' (64); run `kb index` to rebuild it "
        "with the configured model"
    )


def test_no_index_says_run_kb_index(tmp_path, fake_embedder):
    with pytest.raises(IndexMissing, match="run `kb index`"):
        Searcher(tmp_path / "nothing", fake_embedder)


def test_old_bundles_are_pruned_but_current_kept(small_kb, tmp_path, fake_embedder):
    index = tmp_path / "index"
    for _ in range(5):
        report = build_index(small_kb, index, fake_embedder, force=True)
    bundles = [p for p in (index / "bundles").iterdir() if not p.name.startswith(".")]
    assert len(bundles) == bundle_mod.KEEP_BUNDLES
    assert current_path(index) == report.path
    assert os.path.islink(index / "current")


def test_a_bundle_that_failed_is_not_loaded_again_on_every_search(small_kb, tmp_path, fake_embedder, monkeypatch):
    import kb.search.searcher as searcher_module

    index = tmp_path / "index"
    build_index(small_kb, index, fake_embedder)
    searcher = Searcher(index, fake_embedder)
    good = searcher.bundle.name
    second = build_index(small_kb, index, fake_embedder, force=True)
    (second.path / "vectors.faiss").write_bytes(b"garbage")
    loads = []
    real = searcher_module.load_bundle
    monkeypatch.setattr(searcher_module, "load_bundle", lambda path: loads.append(path) or real(path))
    for _ in range(5):
        assert searcher.search("dsl").bundle == good
    assert len(loads) == 1  # tried once, then remembered
    third = build_index(small_kb, index, fake_embedder, force=True)  # a new publish is tried at once
    assert searcher.search("dsl").bundle == third.name and len(loads) == 2
