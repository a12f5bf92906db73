"""Replace secrets and e-mail addresses in text before it can become training data.

Only precise, format-based patterns (in the spirit of detect-secrets' regex plugins): entropy
detectors flag ordinary prose and code identifiers, which would corrupt the very text we train on.
`scrub(text)` returns the cleaned text and a count per secret kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable

SECRET = "<SECRET>"
EMAIL = "<EMAIL>"

# A complete PEM block; the lazy body also spans diff prefixes ("+") at line starts.
_PEM_BLOCK = re.compile(
    r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
    re.DOTALL,
)
# A BEGIN line whose END was cut off (a truncated hunk): take the base64 lines that follow.
_PEM_OPEN = re.compile(r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:[ \t]*\n[+\- \t]*[A-Za-z0-9+/=]{8,})*")

# A PEM body line seen without its BEGIN/END lines (a hunk that starts mid-key, or git's hunk
# header quoting the nearest line): a long run of the base64 alphabet mixing cases and digits.
# Paths and identifiers of that length lack digits or carry '.', '_' or '-', so they survive.
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_.-])[A-Za-z0-9+/]{32,}={0,2}(?![A-Za-z0-9+/=_.-])")


def _b64_blob(m: re.Match[str]) -> str:
    run = m.group(0)
    mixed = any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)
    return SECRET if mixed else run


_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b")),
    ("github_token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b")),
    ("slack_token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    ("slack_webhook", re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}")),
    ("stripe_key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("openai_key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{20,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("huggingface_token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")),
    ("bearer_token", re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/-]{20,}=*")),
    ("url_credentials", re.compile(r"(?<=://)[^/\s:@'\"]+:[^/\s@'\"]+(?=@)")),
)

# `password = "..."`, `API_KEY: ...`, `"client_secret": "..."`, `db_password: str = "..."`.
_KEYWORDS = (
    r"password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|access[_-]?token"
    r"|api[_-]?token|refresh[_-]?token|private[_-]?key|client[_-]?secret|credentials?"
)
_ASSIGNMENT = re.compile(
    rf"(?P<key>\b[A-Za-z0-9_-]*?(?:{_KEYWORDS})[A-Za-z0-9_-]*)[\"']?"
    r"(?P<sep>[ \t]*(?::[ \t]*[A-Za-z_][\w\[\], .|]*?)?[ \t]*(?:==?|:=|=>|:)[ \t]*)"
    # an unquoted value runs to a terminator; a `)` or `}` inside it with more of the value after it
    # (`SECRET_KEY=x9!k(2@u_ab=+)zz`) is part of it, one that closes the call around it is not
    r"(?P<val>(?:\b[rRbBuUfF]{1,2})?(?:\"[^\"\n]*\"|'[^'\n]*')|[^\s,;)\"'}]+(?:[)}]+[\w@!%^&*+=~$#-][^\s,;)\"'}]*)*)",
    re.IGNORECASE,
)
# Code, not a secret: `password = os.environ["X"]`, `secret = None`, `api_key: str`.
_CODE_VALUE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?:\(|\[|$)")
_PLACEHOLDER = re.compile(r"^(?:|<[^>]*>|\*+|x+|\.\.\.|\$\{?[\w.]+\}?|\{\{.*\}\}|%\(?\w*\)?s)$", re.IGNORECASE)

_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


# How an unquoted expression starts and an unquoted secret does not: a call or subscript of a
# name, maybe inside brackets. `secret_keys = [to_bytes(s) for s in keys]` is code (replacing
# its "value" broke the line); `SECRET_KEY=x9!k(2@u_ab=+)zz` or `PASSWORD=Tr0ub4dor{x9Lq` is a
# secret that merely contains a bracket, and is replaced.
_EXPRESSION = re.compile(r"^[\[({]*[A-Za-z_][\w.]*[(\[]")
_FIELD_SPLIT = re.compile(r"\{[^{}]*\}|[^{}]+")
_FIELD_LITERAL = re.compile(r"(['\"])([^'\"]*)\1")  # string literals in a field, left to right
_STRING_PREFIX = re.compile(r"^[rRbBuUfF]{1,2}(?=[\"'])")


def _split_literal(raw: str) -> tuple[str, str, str] | None:
    """(prefix, quote, body) of a quoted literal such as `b"..."`, or None for an unquoted value."""
    prefix = m.group(0) if (m := _STRING_PREFIX.match(raw)) else ""
    rest = raw[len(prefix):]
    if rest[:1] in "\"'" and len(rest) >= 2 and rest[-1] == rest[0]:
        return prefix, rest[0], rest[1:-1]
    return None


def _is_secret_value(raw: str) -> bool:
    literal = _split_literal(raw)
    quoted = literal is not None
    value = literal[2] if literal else raw
    if not quoted and _EXPRESSION.match(value):
        return False
    if _PLACEHOLDER.match(value) or SECRET in value:
        return False
    if quoted:
        return len(value) >= 3
    if value.lower() in {"none", "null", "true", "false", "nil"}:
        return False
    # An unquoted identifier is usually a variable (`password = user_password`); one that
    # carries a digit and no attribute access reads like a literal (`PASSWORD=hunter2`).
    if _CODE_VALUE.match(value):
        return any(c.isdigit() for c in value) and "." not in value and "(" not in value and "[" not in value
    return len(value) >= 3


def scrub(text: str) -> tuple[str, dict[str, int]]:
    """Return `text` with secrets replaced by `<SECRET>` and e-mails by `<EMAIL>`, plus counts per kind."""
    counts: dict[str, int] = {}

    def sub(kind: str, pattern: re.Pattern[str], s: str, repl: Callable[[re.Match[str]], str] | str) -> str:
        def one(m: re.Match[str]) -> str:
            out = repl(m) if callable(repl) else repl
            if out != m.group(0):
                counts[kind] = counts.get(kind, 0) + 1
            return out

        return pattern.sub(one, s)

    text = sub("private_key", _PEM_BLOCK, text, SECRET)
    text = sub("private_key", _PEM_OPEN, text, SECRET)
    for kind, pattern in _TOKEN_PATTERNS:
        text = sub(kind, pattern, text, SECRET)

    text = sub("base64_blob", _B64_RUN, text, _b64_blob)

    def assignment(m: re.Match[str]) -> str:
        val = m.group("val")
        if not _is_secret_value(val):
            return m.group(0)
        # Only the secret's characters go: a literal keeps its prefix and quotes, so the code or
        # YAML around it still parses.
        literal = _split_literal(val)
        if literal and "f" in literal[0].lower() and "{" in literal[2]:
            # an f-string: its `{fields}` are code; only the literal text between them goes
            # (and a literal inside a field may be the secret itself: `f"{env('PW') or 'Sup3r'}"`)
            def field_literal(q: re.Match[str]) -> str:
                return q.group(0) if len(q.group(2)) < 3 else f"{q.group(1)}{SECRET}{q.group(1)}"

            body = _FIELD_SPLIT.sub(lambda p: _FIELD_LITERAL.sub(field_literal, p.group(0))
                                    if p.group(0).startswith("{") else SECRET, literal[2])
            kept = f"{literal[0]}{literal[1]}{body}{literal[1]}"
        else:
            kept = f"{literal[0]}{literal[1]}{SECRET}{literal[1]}" if literal else SECRET
        return m.group(0)[: m.start("val") - m.start(0)] + kept

    text = sub("assignment", _ASSIGNMENT, text, assignment)
    text = sub("email", _EMAIL, text, EMAIL)
    return text, counts
