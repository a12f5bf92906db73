"""Second line of defence behind the harvester's scrubber: a live credential never reaches training."""

from __future__ import annotations

import re

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import Example

PATTERNS: dict[str, re.Pattern[str]] = {
    "private_key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    "aws": re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    "github": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b"),
    "slack": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"),
    "stripe": re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"),
    "openai": re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
}


def find_secret(text: str) -> str | None:
    for kind, pattern in PATTERNS.items():
        if pattern.search(text):
            return kind
    return None


class SecretsFilter:
    name = "secrets"

    def filter(self, example: Example) -> Verdict:
        for message in example.messages:
            kind = find_secret(message.content)
            if kind:
                return drop(f"secret:{kind}")
        return KEEP
