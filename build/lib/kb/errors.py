"""Named exceptions. The CLI and the web app turn each into one clear message."""


class KBError(Exception):
    """Base class: the message says what went wrong and what to do next."""


class ArticleError(KBError):
    """An article file cannot be read or parsed."""

    def __init__(self, path: str, line: int, message: str, hint: str = ""):
        self.path, self.line, self.message, self.hint = str(path), line, message, hint
        text = f"{self.path}:{line}: {message}"
        super().__init__(f"{text} ({hint})" if hint else text)


class LintFailed(KBError):
    """Articles that do not pass `kb lint` are never published."""


class IndexMissing(KBError):
    """No published index bundle exists yet."""


class IndexInvalid(KBError):
    """A bundle is incomplete, corrupt or inconsistent."""


class ModelMismatch(KBError):
    """The bundle was built with another embedding model than the one configured."""


class ModelUnavailable(KBError):
    """The configured embedding model cannot be loaded."""


class QueryError(KBError):
    """The search query cannot be used (empty, too long, not text)."""


class EvalFileError(KBError):
    """The evaluation file has lines that cannot be used."""


class NotFound(KBError):
    """No case, user or delivery with the given id exists."""


class InvalidInput(KBError):
    """A value cannot be stored; `field` names it so a form can point at it."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(message)


class CaseClosed(KBError):
    """The case is resolved, escalated or unresolved; only reopening may change it."""


class LoginFailed(KBError):
    """Wrong user name or password, or the account is disabled."""


class LoginThrottled(KBError):
    """Too many failed log-ins; `retry_at` (UTC) says when to try again."""

    def __init__(self, message: str, retry_at=None):
        self.retry_at = retry_at
        super().__init__(message)
