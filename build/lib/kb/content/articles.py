"""Articles: Markdown files with YAML front matter, one per article per language."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kb.errors import ArticleError

MAX_FILE_BYTES = 1024 * 1024
LANGUAGES = ("nl", "en")
# "tv" is optional: only a provider that sells TV needs articles in it.
CATEGORIES = ("connectivity", "wifi", "router", "account", "email", "telephony", "service", "tv")
CONNECTIONS = ("fibre", "dsl", "cable", "any")
TEAMS = ("tier2", "network-operations", "field-service", "billing", "security", "team-lead", "none")
STATUSES = ("draft", "published", "archived")
REVISION_CHARS = 12

# Section kinds in the order an article must have them, with their heading per language.
SECTION_HEADINGS = {
    "en": {
        "symptoms": "Symptoms",
        "causes": "Causes",
        "steps": "Steps",
        "escalate": "When to escalate",
        "explain": "Explain to the customer",
    },
    "nl": {
        "symptoms": "Symptomen",
        "causes": "Oorzaken",
        "steps": "Stappen",
        "escalate": "Wanneer escaleren",
        "explain": "Uitleg voor de klant",
    },
}
EXPECTED_PREFIX = {"en": "Expected:", "nl": "Verwacht:"}

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?---[ \t]*(?:\r?\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
_STEP = re.compile(r"^(\d+)[.)][ \t]+(.*)$")


@dataclass(frozen=True)
class Step:
    """One numbered step: the action, and its expected result."""

    number: int
    action: str
    expected: str
    line: int


@dataclass(frozen=True)
class Section:
    """A level-2 section of the body. `kind` is one of SECTION_HEADINGS' keys, or 'other'."""

    heading: str
    kind: str
    text: str
    line: int
    text_line: int


@dataclass(frozen=True)
class Article:
    """One language version of an article, parsed. `meta` keeps the front matter as written."""

    path: str
    meta: dict
    body: str
    body_line: int
    sections: tuple[Section, ...]
    steps: tuple[Step, ...]
    content_hash: str
    text: str = field(default="", repr=False, compare=False)  # the source as written, for snapshots

    @property
    def revision(self) -> str:
        """This version's revision id: the start of the hash of its text, the same on every host."""
        return self.content_hash[:REVISION_CHARS]

    def get(self, name: str, default=None):
        return self.meta.get(name, default)

    @property
    def id(self) -> str:
        return str(self.meta.get("id", ""))

    @property
    def lang(self) -> str:
        return str(self.meta.get("lang", ""))

    @property
    def title(self) -> str:
        return str(self.meta.get("title") or self.id)

    @property
    def category(self) -> str:
        return str(self.meta.get("category", ""))

    @property
    def status(self) -> str:
        return str(self.meta.get("status", "published"))

    @property
    def symptoms(self) -> list[str]:
        return [str(s) for s in _as_list(self.meta.get("symptoms"))]

    @property
    def tags(self) -> list[str]:
        return [str(s) for s in _as_list(self.meta.get("tags"))]

    @property
    def related(self) -> list[str]:
        return [str(s) for s in _as_list(self.meta.get("related"))]

    @property
    def connections(self) -> list[str]:
        applies = self.meta.get("applies_to") or {}
        if isinstance(applies, dict):
            return [str(c) for c in _as_list(applies.get("connection"))] or ["any"]
        return [str(c) for c in _as_list(applies)] or ["any"]

    @property
    def escalate_to(self) -> str:
        return str(self.meta.get("escalate_to", ""))

    def section(self, kind: str) -> Section | None:
        return next((s for s in self.sections if s.kind == kind), None)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def read_text(path: Path) -> str:
    """Read an article file as UTF-8 text, refusing files no editor could have meant."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ArticleError(path, 1, f"cannot read file: {exc.strerror}") from exc
    if size > MAX_FILE_BYTES:
        raise ArticleError(
            path,
            1,
            f"file is {size} bytes, more than the 1 MiB limit",
            "split the article or remove pasted binary content",
        )
    data = path.read_bytes()
    if b"\x00" in data:
        raise ArticleError(path, 1, "file is binary, not Markdown text", "articles are UTF-8 Markdown files")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ArticleError(path, line, "file is not valid UTF-8", "save it as UTF-8") from exc
    return text.lstrip("\ufeff")


def parse_article(text: str, path: str | Path = "<text>") -> Article:
    """Parse one article's text. Raises ArticleError when the front matter is missing or invalid."""
    path = str(path)
    if not text.strip():
        raise ArticleError(path, 1, "file is empty", "start with a '---' front matter block")
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ArticleError(
            path, 1, "no front matter found", "the file must start with '---', the YAML fields, and a closing '---'"
        )
    try:
        meta = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ArticleError(
            path,
            line,
            f"front matter is not valid YAML: {problem}",
            "quote values that contain ':' or start with a special character",
        ) from exc
    if not isinstance(meta, dict):
        raise ArticleError(path, 2, "front matter must be a mapping of 'field: value' lines")
    meta = {str(k): _plain(v) for k, v in meta.items()}
    body = text[match.end() :]
    body_line = text[: match.end()].count("\n") + 1
    lang = str(meta.get("lang", ""))
    sections = _split_sections(body, body_line, lang)
    steps_section = next((s for s in sections if s.kind == "steps"), None)
    steps = _parse_steps(steps_section, lang) if steps_section else ()
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Article(path, meta, body, body_line, tuple(sections), steps, digest, text)


def _plain(value):
    """YAML dates become ISO strings so articles compare and serialise simply."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _split_sections(body: str, first_line: int, lang: str) -> list[Section]:
    kinds = {v.lower(): k for k, v in SECTION_HEADINGS.get(lang, {}).items()}
    sections: list[Section] = []
    heading, line, buf = None, first_line, []
    in_fence = False
    for offset, raw in enumerate(body.splitlines()):
        if raw.lstrip().startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else _HEADING.match(raw)
        if m and len(m.group(1)) == 2:
            if heading is not None:
                sections.append(_section(heading, kinds, buf, line))
            heading, line, buf = m.group(2).strip(), first_line + offset, []
        elif heading is not None:
            buf.append(raw)
    if heading is not None:
        sections.append(_section(heading, kinds, buf, line))
    return sections


def _section(heading: str, kinds: dict, lines: list[str], line: int) -> Section:
    blank = next((i for i, text in enumerate(lines) if text.strip()), len(lines))
    text = "\n".join(lines[blank:]).rstrip()
    return Section(heading, kinds.get(heading.lower(), "other"), text, line, line + 1 + blank)


def _parse_steps(section: Section, lang: str) -> tuple[Step, ...]:
    prefix = EXPECTED_PREFIX.get(lang, "Expected:").lower()
    steps: list[Step] = []
    current: dict | None = None

    def flush():
        if current is not None:
            steps.append(
                Step(
                    current["n"],
                    " ".join(current["action"]).strip(),
                    " ".join(current["expected"]).strip(),
                    current["line"],
                )
            )

    for offset, raw in enumerate(section.text.splitlines(), start=section.text_line):
        m = _STEP.match(raw)
        if m:
            flush()
            current = {"n": int(m.group(1)), "action": [m.group(2).strip()], "expected": [], "line": offset}
            continue
        if current is None or not raw.strip():
            continue
        stripped = raw.strip()
        if not raw[:1].isspace():
            flush()
            current = None
            continue
        plain = stripped.replace("**", "")
        if plain.lower().startswith(prefix):
            current["expected"].append(plain[len(prefix) :].strip())
            continue
        (current["expected"] if current["expected"] else current["action"]).append(stripped)
    flush()
    return tuple(steps)


def article_files(root: Path) -> list[Path]:
    """All article files under root (or root itself when it is a file), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.md") if p.is_file() and not p.name.startswith("."))


def load_articles(root: Path, include_drafts: bool = False) -> list[Article]:
    """Parse every article under root. Unparseable files raise ArticleError: run `kb lint`."""
    articles = [parse_article(read_text(p), p) for p in article_files(root)]
    if include_drafts:
        return [a for a in articles if a.status != "archived"]
    return [a for a in articles if a.status == "published"]
