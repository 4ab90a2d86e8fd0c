"""The analyser version is derived from what decides the analysis, and the typo table is built up front."""

from __future__ import annotations

from kb.search import analysis
from kb.search.bm25 import BM25Index


def test_the_version_is_a_hash_that_follows_the_stop_words_and_synonyms(monkeypatch):
    assert analysis.ANALYZER_VERSION == analysis._analyzer_version() and len(analysis.ANALYZER_VERSION) == 12
    monkeypatch.setitem(analysis.STOPWORDS, "nl", analysis.STOPWORDS["nl"] | {"modem"})
    with_stopword = analysis._analyzer_version()
    monkeypatch.undo()
    monkeypatch.setattr(analysis, "SYNONYM_GROUPS", [*analysis.SYNONYM_GROUPS, "storing outage"])
    with_synonym = analysis._analyzer_version()
    assert len({analysis.ANALYZER_VERSION, with_stopword, with_synonym}) == 3


def test_the_typo_table_exists_before_the_first_search():
    index = BM25Index.build(["the modem restarts", "het wachtwoord vergeten"], ["en", "nl"])
    table = index._deletes
    assert "moem" in table and table["moem"] == ["modem"]  # one letter deleted
    index.scores("mdoem herstarten")  # a swapped letter is corrected from the ready table
    assert index._deletes is table  # reading it never rebuilds or changes it
