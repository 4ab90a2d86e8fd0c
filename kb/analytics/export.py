"""Tables out as CSV that spreadsheets open safely, and as JSON.

CSV is UTF-8 with a byte-order mark (Excel then reads accents right) and CRLF line ends. A cell
that begins with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula by a
spreadsheet ("CSV injection"): such a cell gets a leading `'`, which spreadsheets show as text.
Numbers are written as numbers (a negative number is a number, not a formula).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    return json.dumps([{h: _plain(v) for h, v in zip(header, row, strict=True)} for row in rows], ensure_ascii=False)
