"""Integration fixtures: the shipped knowledge base indexed with the real bundled model."""

import shutil

import pytest

from kb.search.bundle import build_index
from kb.search.embedding import DEFAULT_MODEL, INDEX, load_embedder
from kb.search.searcher import Searcher
from tests.conftest import ROOT
from tests.integration.browser import browser, page, serve  # noqa: F401 - the browser tests' fixtures


@pytest.fixture(scope="session")
def embedder():
    # These tests build whole indexes, so the model gets every core, as `kb index` gives it.
    return load_embedder(DEFAULT_MODEL, purpose=INDEX)


@pytest.fixture(scope="session")
def shipped_index(tmp_path_factory, embedder):
    """The shipped articles, indexed from scratch (empty cache) with the default model."""
    index = tmp_path_factory.mktemp("shipped") / "index"
    build_index(ROOT / "articles", index, embedder)
    return index


@pytest.fixture(scope="session")
def searcher(shipped_index, embedder):
    return Searcher(shipped_index, embedder)


@pytest.fixture
def articles_copy(tmp_path):
    target = tmp_path / "articles"
    shutil.copytree(ROOT / "articles", target)
    return target
