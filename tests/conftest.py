"""Shared fixtures: small article sets written on the fly, and a deterministic fake embedder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from kb.search.analysis import analyze

ROOT = Path(__file__).resolve().parent.parent
HEADINGS = {
    "en": ("Symptoms", "Causes", "Steps", "When to escalate", "Explain to the customer", "Expected"),
    "nl": ("Symptomen", "Oorzaken", "Stappen", "Wanneer escaleren", "Uitleg voor de klant", "Verwacht"),
}


class FakeEmbedder:
    """Hashes stems into a fixed-size vector: similar words give similar vectors, no model needed."""

    def __init__(self, name: str = "fake-embedder", dim: int = 64):
        self.name, self.dim = name, dim
        self.documents_embedded = 0
        self.queries_embedded = 0

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for lang in ("en", "nl"):
            for token in analyze(text, lang):
                h = int(hashlib.md5(token.encode()).hexdigest(), 16)
                v[h % self.dim] += 1.0 if (h >> 8) % 2 else -1.0
        v[0] += 0.01  # never the zero vector
        return v / np.linalg.norm(v)

    def embed_queries(self, texts):
        self.queries_embedded += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_documents(self, texts):
        self.documents_embedded += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def article_text(
    id: str,
    lang: str,
    title: str,
    *,
    category: str = "connectivity",
    symptoms=("it does not work", "nothing happens", "still broken"),
    steps=(("Check the power light.", "The light is on."),),
    connection=("any",),
    related=(),
    escalate_to="tier2",
    tags=("test",),
    extra_meta: str = "",
    status: str = "published",
) -> str:
    """A valid article in the shipped format, with the given content."""
    sym, cause, step_h, esc, explain, expected = HEADINGS[lang]
    steps_md = "\n".join(f"{i}. {action}\n   {expected}: {result}" for i, (action, result) in enumerate(steps, start=1))
    return f"""---
id: {id}
lang: {lang}
title: "{title}"
category: {category}
tags: [{", ".join(tags)}]
symptoms:
{chr(10).join(f'  - "{s}"' for s in symptoms)}
applies_to:
  connection: [{", ".join(connection)}]
escalate_to: {escalate_to}
related: [{", ".join(related)}]
status: {status}
updated: 2026-11-25
owner: kb-test
{extra_meta}---

## {sym}
- {symptoms[0]}

## {cause}
- a cause

## {step_h}

{steps_md}

## {esc}
- Escalate to {escalate_to} with the customer number.

## {explain}
We are checking this for you.
"""


SMALL_KB = {
    "dsl-no-sync": dict(
        en=dict(
            title="DSL light blinking: no DSL sync",
            connection=("dsl",),
            symptoms=("the dsl light keeps blinking", "modem has no sync", "internet light off"),
            steps=(
                ("Check the telephone cable between wall socket and modem.", "The cable clicks in."),
                ("Remove any splitter or extension cable.", "The DSL light goes steady."),
            ),
        ),
        nl=dict(
            title="DSL-lampje knippert: geen DSL-synchronisatie",
            connection=("dsl",),
            symptoms=("het dsl lampje blijft knipperen", "modem heeft geen sync", "internetlampje uit"),
            steps=(
                ("Controleer de telefoonkabel tussen wandcontactdoos en modem.", "De kabel klikt vast."),
                ("Haal een splitter of verlengkabel weg.", "Het DSL-lampje brandt continu."),
            ),
        ),
    ),
    "email-password-reset": dict(
        en=dict(
            title="Reset an e-mail password",
            category="account",
            symptoms=("forgot my email password", "mail app keeps asking for password", "cannot log in to webmail"),
            steps=(
                ("Open My account and choose E-mail.", "The mailbox list appears."),
                ("Choose Change password for the mailbox.", "The new password is saved."),
            ),
        ),
        nl=dict(
            title="E-mailwachtwoord opnieuw instellen",
            category="account",
            symptoms=(
                "e-mailwachtwoord vergeten",
                "mail app blijft om wachtwoord vragen",
                "kan niet inloggen op webmail",
            ),
            steps=(
                ("Open Mijn account en kies E-mail.", "De lijst met mailboxen verschijnt."),
                ("Kies Wachtwoord wijzigen bij de mailbox.", "Het nieuwe wachtwoord is opgeslagen."),
            ),
        ),
    ),
    "escalate-to-tier2": dict(
        en=dict(
            title="Escalate to second line",
            category="service",
            symptoms=("need to hand this over", "second line must look at it", "cannot solve it on the call"),
            steps=(
                ("Check the hand-off checklist is complete.", "Every field of the hand-off is filled in."),
                ("Choose the team and give the reason.", "The case shows the team and the reason."),
            ),
        ),
        nl=dict(
            title="Escaleren naar de tweede lijn",
            category="service",
            symptoms=("moet dit overdragen", "tweede lijn moet ernaar kijken", "kan het niet oplossen"),
            steps=(
                ("Controleer of de overdracht compleet is.", "Elk veld van de overdracht is ingevuld."),
                ("Kies het team en geef de reden.", "De case toont het team en de reden."),
            ),
        ),
    ),
    "fiber-los-red-light": dict(
        en=dict(
            title="Fibre modem LOS light red",
            connection=("fibre",),
            symptoms=("los light is red", "fibre box red light", "pon light blinking"),
            steps=(
                ("Check the fibre patch cable is clicked into the ONT.", "The cable sits firmly."),
                ("Look for a kink in the fibre cable.", "The cable is not bent sharply."),
            ),
        ),
        nl=dict(
            title="Glasvezelmodem LOS-lampje rood",
            connection=("fibre",),
            symptoms=("los lampje is rood", "glasvezelkastje rood lampje", "pon lampje knippert"),
            steps=(
                ("Controleer of de glasvezelkabel in de ONT vastklikt.", "De kabel zit vast."),
                ("Zoek naar een knik in de glasvezelkabel.", "De kabel is niet geknikt."),
            ),
        ),
    ),
}


def write_kb(root: Path, kb: dict = SMALL_KB) -> Path:
    for article_id, versions in kb.items():
        for lang, fields in versions.items():
            path = root / lang / f"{article_id}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(article_text(article_id, lang, **fields), encoding="utf-8")
    return root


@pytest.fixture
def small_kb(tmp_path) -> Path:
    return write_kb(tmp_path / "articles")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()
