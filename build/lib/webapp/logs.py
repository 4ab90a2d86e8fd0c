"""Log lines that cannot be forged: control characters in any message are written as escapes.

A request path is attacker-chosen (gunicorn logs it percent-decoded), so "%0a" could start a fake
log line and "%1b[31m" could write terminal escapes. Every log record this process creates has
its message escaped, whichever library logs it (Werkzeug, gunicorn, the app).
"""

from __future__ import annotations

import logging
import re

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_installed = False


def escape_controls(text: str) -> str:
    """'a\\nb' -> 'a\\\\x0ab': the text on one line, with nothing a terminal would act on."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def install() -> None:
    """Escape every log message created from now on, in this process and the ones it forks."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def safe_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, as before
            return record
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return record

    logging.setLogRecordFactory(safe_record)
    _installed = True
