"""`kb lint`: check articles against the format in docs/article-format.md."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.content.articles import (
    CATEGORIES,
    CONNECTIONS,
    EXPECTED_PREFIX,
    LANGUAGES,
    SECTION_HEADINGS,
    STATUSES,
    TEAMS,
    Article,
    article_files,
    parse_article,
    read_text,
)
from kb.content.style import referenced_ids, term_findings, unobservable_findings
from kb.errors import ArticleError

REQUIRED_FIELDS = (
    "id",
    "lang",
    "title",
    "category",
    "tags",
    "symptoms",
    "applies_to",
    "escalate_to",
    "related",
    "status",
    "updated",
    "owner",
)
# Optional: who last reviewed the article, and when (YYYY-MM-DD).
OPTIONAL_FIELDS = ("reviewed_by", "reviewed_at")
KNOWN_FIELDS = set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS)
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_NAMES = {"nl": "Dutch", "en": "English"}


@dataclass(frozen=True)
class Problem:
    """One lint finding, located in a file."""

    path: str
    line: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def lint_paths(targets: list[Path], context_root: Path | None = None) -> list[Problem]:
    """Lint the articles in `targets`; `context_root` supplies the other articles for cross-checks.

    Only problems in the target files are reported; the context is used to know which ids and
    language versions exist.
    """
    target_files = [f for t in targets for f in article_files(Path(t))]
    missing = [t for t in targets if not Path(t).exists()]
    problems = [Problem(str(t), 0, "no such file or directory", "give an article file or folder") for t in missing]
    context_files = article_files(context_root) if context_root and Path(context_root).is_dir() else []
    resolved_targets = {f.resolve() for f in target_files}
    parsed: dict[Path, Article] = {}
    # One entry per file, however it was named (relative target, absolute KB_ARTICLES): the target's spelling wins.
    files = {f.resolve(): f for f in context_files} | {f.resolve(): f for f in target_files}
    for path in sorted(files.values(), key=str):
        try:
            text = read_text(path)
            parsed[path] = parse_article(text, path)
        except ArticleError as exc:
            if path.resolve() in resolved_targets:
                problems.append(Problem(exc.path, exc.line, exc.message, exc.hint))
    articles = list(parsed.values())
    for article in articles:
        if Path(article.path).resolve() in resolved_targets:
            problems.extend(check_article(article))
    problems.extend(p for p in check_collection(articles) if Path(p.path).resolve() in resolved_targets)
    return sorted(set(problems), key=lambda p: (p.path, p.line, p.message))


def lint_text(text: str, path: str, others: Iterable[Article] = ()) -> list[Problem]:
    """Lint one article given as text (an editor's draft, stored in the database) as `kb lint` would
    lint it as the file `path` (`<lang>/<id>.md`); `others` are the rest of the knowledge base, for
    the checks across articles (both languages, known related ids)."""
    try:
        article = parse_article(text, path)
    except ArticleError as exc:
        return [Problem(exc.path, exc.line, exc.message, exc.hint)]
    problems = check_article(article)
    rest = [a for a in others if (a.id, a.lang) != (article.id, article.lang)]
    problems += [p for p in check_collection([*rest, article]) if p.path == path]
    return sorted(set(problems), key=lambda p: (p.line, p.message))


def _field_line(article: Article, name: str) -> int:
    """The line where a front-matter field is written (1 when absent)."""
    head = article.body_line
    text = article.text
    if not text:
        try:
            text = read_text(Path(article.path))
        except (ArticleError, OSError):
            return 1
    for number, line in enumerate(text.splitlines()[:head], start=1):
        if re.match(rf"^{re.escape(name)}\s*:", line):
            return number
    return 1


def check_article(a: Article) -> list[Problem]:
    """Schema and structure checks on one parsed article."""
    out: list[Problem] = []

    def bad(field: str, message: str, hint: str = ""):
        out.append(Problem(a.path, _field_line(a, field), message, hint))

    for name in REQUIRED_FIELDS:
        if name not in a.meta or a.meta[name] in (None, ""):
            bad(name, f"missing required field '{name}'", "see docs/article-format.md")
    for name in sorted(set(a.meta) - KNOWN_FIELDS):
        bad(name, f"unknown field '{name}'", "known fields: " + ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS))
    if "id" in a.meta:
        if not ID_PATTERN.match(a.id):
            bad("id", f"'id' must be lowercase words joined by hyphens (found {a.meta['id']!r})")
        elif Path(a.path).stem != a.id:
            bad("id", f"file name '{Path(a.path).name}' does not match id '{a.id}'", f"rename the file to {a.id}.md")
    _check_choice(a, "lang", LANGUAGES, bad)
    _check_choice(a, "category", CATEGORIES, bad)
    _check_choice(a, "escalate_to", TEAMS, bad)
    _check_choice(a, "status", STATUSES, bad)
    parent = Path(a.path).parent.name
    if a.lang in LANGUAGES and parent in LANGUAGES and parent != a.lang:
        bad(
            "lang",
            f"'lang' is '{a.lang}' but the file is in the '{parent}' folder",
            f"move it to articles/{a.lang}/ or fix 'lang'",
        )
    for name in ("tags", "symptoms", "related"):
        value = a.meta.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            bad(name, f"'{name}' must be a list of text values", f"write it as {name}: [a, b] or one '- item' per line")
            continue
        for position, item in enumerate(value, start=1):
            if not isinstance(item, str):
                bad(
                    name,
                    f"'{name}' item {position} is {type(item).__name__} {item!r}, not text",
                    f'put it in quotes: "{item}"',
                )
    if isinstance(a.meta.get("symptoms"), list) and not a.meta["symptoms"]:
        bad("symptoms", "'symptoms' is empty", "add the phrases customers use for this problem")
    _check_applies_to(a, bad)
    for name in ("updated", "reviewed_at"):
        if name in a.meta:
            try:
                dt.date.fromisoformat(str(a.meta[name])[:10])
            except ValueError:
                bad(name, f"'{name}' must be a date YYYY-MM-DD (found {a.meta[name]!r})")
    if a.id and a.id in a.related:
        bad("related", f"'related' lists the article itself ('{a.id}')")
    if a.lang in LANGUAGES:
        out.extend(_check_body(a))
        for finding in term_findings(a) + unobservable_findings(a):
            out.append(Problem(a.path, finding.line, finding.message, finding.hint))
    return out


def _check_choice(a: Article, name: str, allowed: tuple, bad) -> None:
    value = a.meta.get(name)
    if value not in (None, "") and str(value) not in allowed:
        bad(name, f"'{name}' must be one of {', '.join(allowed)} (found {value!r})")


def _check_applies_to(a: Article, bad) -> None:
    value = a.meta.get("applies_to")
    if value is None:
        return
    if isinstance(value, dict):
        unknown = set(value) - {"connection", "devices"}
        if unknown:
            bad(
                "applies_to",
                f"'applies_to' has unknown keys: {', '.join(sorted(map(str, unknown)))}",
                "use 'connection' and optionally 'devices'",
            )
        connections = value.get("connection")
    else:
        connections = value
    if not isinstance(connections, list) or not connections:
        bad(
            "applies_to",
            "'applies_to.connection' must be a non-empty list",
            f"for example connection: [fibre, dsl] (choices: {', '.join(CONNECTIONS)})",
        )
        return
    for c in connections:
        if str(c) not in CONNECTIONS:
            bad("applies_to", f"'applies_to.connection' must contain only {', '.join(CONNECTIONS)} (found {c!r})")


def _check_body(a: Article) -> list[Problem]:
    out: list[Problem] = []
    headings = SECTION_HEADINGS[a.lang]
    kinds = [s.kind for s in a.sections if s.kind != "other"]
    for kind, heading in headings.items():
        if kind not in kinds:
            out.append(
                Problem(
                    a.path,
                    a.body_line,
                    f"missing section '## {heading}'",
                    "required sections: " + ", ".join(f"## {h}" for h in headings.values()),
                )
            )
    present = [k for k in headings if k in kinds]
    if kinds != present and len(set(kinds)) == len(kinds):
        out.append(Problem(a.path, a.body_line, "sections are out of order", "order: " + ", ".join(headings.values())))
    for section in a.sections:
        if section.kind != "other" and not section.text.strip():
            out.append(Problem(a.path, section.line, f"section '## {section.heading}' is empty"))
    steps_section = a.section("steps")
    if steps_section is not None and steps_section.text.strip():
        if not a.steps:
            out.append(
                Problem(
                    a.path,
                    steps_section.line,
                    "section has no numbered steps",
                    "write steps as '1. action' with an indented 'Expected:' line",
                )
            )
        prefix = EXPECTED_PREFIX[a.lang]
        for position, step in enumerate(a.steps, start=1):
            if step.number != position:
                out.append(
                    Problem(
                        a.path,
                        step.line,
                        f"step numbered {step.number}, expected {position}",
                        "number the steps 1, 2, 3, ... without gaps",
                    )
                )
            if not step.action:
                out.append(Problem(a.path, step.line, f"step {step.number} has no action"))
            if not step.expected:
                out.append(
                    Problem(
                        a.path,
                        step.line,
                        f"step {step.number} has no expected result",
                        f"add an indented line '{prefix} ...' under the step",
                    )
                )
    return out


def check_collection(articles: list[Article]) -> list[Problem]:
    """Checks across articles: unique (id, lang), both languages, known ids in 'related' and in the text."""
    out: list[Problem] = []
    seen: dict[tuple[str, str], Article] = {}
    by_id: dict[str, set[str]] = {}
    for a in articles:
        key = (a.id, a.lang)
        if key in seen:
            out.append(
                Problem(
                    a.path,
                    _field_line(a, "id"),
                    f"duplicate article: id '{a.id}' in '{a.lang}' is also {seen[key].path}",
                    "give one of them another id",
                )
            )
        else:
            seen[key] = a
        by_id.setdefault(a.id, set()).add(a.lang)
    for a in articles:
        if not a.id or a.lang not in LANGUAGES:
            continue
        for lang in LANGUAGES:
            if lang not in by_id.get(a.id, set()):
                out.append(
                    Problem(
                        a.path,
                        _field_line(a, "id"),
                        f"no {LANGUAGE_NAMES[lang]} version of '{a.id}'",
                        f"add articles/{lang}/{a.id}.md with the same id",
                    )
                )
        for rid in a.related:
            if isinstance(rid, str) and rid not in by_id and rid != a.id:
                out.append(
                    Problem(
                        a.path,
                        _field_line(a, "related"),
                        f"'related' names unknown article '{rid}'",
                        "use the id of an existing article",
                    )
                )
        for line, rid in referenced_ids(a):
            if rid not in by_id and rid not in TEAMS:  # "go to network-operations" names a team
                out.append(
                    Problem(
                        a.path,
                        line,
                        f"the text refers to unknown article '{rid}'",
                        "use the id of an existing article after 'see' / 'zie'",
                    )
                )
    return out
