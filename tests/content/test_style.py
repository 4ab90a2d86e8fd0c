"""The house style lint can check: preferred terms, observable expected results, references in the text."""

from __future__ import annotations

import pytest

from kb.content.lint import lint_paths
from tests.conftest import article_text, write_kb


def lint_messages(root, path) -> list[str]:
    return [f"{p.line}: {p.message}" for p in lint_paths([path], context_root=root)]


def line_of(path, text) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line)


def write(root, article_id, lang, **fields):
    path = root / lang / f"{article_id}.md"
    path.write_text(article_text(article_id, lang, "Titel", **fields), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "wrong, right",
    [
        ("wifi-wachtwoord", "wifiwachtwoord"),
        ("Wifi wachtwoord", "wifiwachtwoord"),
        ("beheerders-wachtwoord", "beheerderswachtwoord"),
        ("mesh-systeem", "meshsysteem"),
        ("bridge-modus", "bridgemodus"),
        ("typfout", "typefout"),
        ("gsm", "mobiele telefoon (or mobiel)"),
    ],
)
def test_a_discouraged_dutch_spelling_names_the_preferred_one(small_kb, wrong, right):
    path = write(small_kb, "dsl-no-sync", "nl", steps=((f"Vraag naar het {wrong}.", "De klant leest het voor."),))
    messages = lint_messages(small_kb, path)
    assert [m for m in messages if "write" in m] == [f"{line_of(path, wrong)}: write '{right}', not '{wrong}'"]


def test_the_preferred_spellings_pass(small_kb):
    path = write(
        small_kb,
        "dsl-no-sync",
        "nl",
        steps=(("Vraag naar het wifiwachtwoord en de bridgemodus.", "De klant leest het beheerderswachtwoord voor."),),
    )
    assert lint_messages(small_kb, path) == []


@pytest.mark.parametrize(
    "lang, expected, word",
    [
        ("en", "The customer understands why.", "understands"),
        ("en", "You know which box is the modem.", "know"),
        ("nl", "De klant begrijpt waarom.", "begrijpt"),
        ("nl", "Je weet welk kastje het modem is.", "weet"),
    ],
)
def test_an_expected_result_that_cannot_be_observed_is_refused(small_kb, lang, expected, word):
    path = write(small_kb, "dsl-no-sync", lang, steps=(("Ask.", expected),))
    line = line_of(path, "1. Ask.")
    assert lint_messages(small_kb, path) == [
        f"{line}: step 1: the expected result says '{word}', which the agent cannot observe or record"
    ]


def test_an_observable_expected_result_passes(small_kb):
    path = write(
        small_kb,
        "dsl-no-sync",
        "en",
        steps=(("Ask which lights are on.", "The customer reads out: power green, DSL blinking."),),
    )
    assert lint_messages(small_kb, path) == []


def test_references_in_the_text_must_name_existing_articles(small_kb):
    path = write(
        small_kb,
        "dsl-no-sync",
        "en",
        steps=(
            ("If the light is red, see fiber-los-red-light.", "The light is steady."),
            ("Otherwise go to router-reboot-now.", "The modem restarts."),
        ),
    )
    line = line_of(path, "router-reboot-now")
    assert lint_messages(small_kb, path) == [f"{line}: the text refers to unknown article 'router-reboot-now'"]


def test_dutch_references_are_checked_too(small_kb):
    path = write(
        small_kb,
        "dsl-no-sync",
        "nl",
        steps=(("Zie email-password-reset of ga naar geen-artikel.", "Klaar: de klant leest de code voor."),),
    )
    line = line_of(path, "geen-artikel")
    assert lint_messages(small_kb, path) == [f"{line}: the text refers to unknown article 'geen-artikel'"]


def test_the_shipped_small_kb_has_no_style_findings(tmp_path):
    root = write_kb(tmp_path / "articles")
    assert lint_paths([root], context_root=root) == []
