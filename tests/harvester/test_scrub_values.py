"""Where `password = ...` stops being code and starts being a secret: the scrubber's value rules
at their edges (length, quotes, placeholders, identifiers)."""

from __future__ import annotations

import pytest

from shared.scrub import scrub


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('password = "abc"', 'password = "<SECRET>"'),  # three characters inside quotes: a secret
        ("password = 'x1!'", "password = '<SECRET>'"),
        ("PASSWORD=a1!", "PASSWORD=<SECRET>"),  # an unquoted literal of three characters
        ("api_key: abc-1", "api_key: <SECRET>"),
        ("secret = hunter2", "secret = <SECRET>"),  # an identifier with a digit reads like a literal
    ],
)
def test_short_values_that_are_secrets(line: str, expected: str) -> None:
    out, counts = scrub(line)
    assert out == expected
    assert counts == {"assignment": 1}


@pytest.mark.parametrize(
    "line",
    [
        'password = "ab"',  # too short to be a real secret
        "PASSWORD=!!",
        'password = ""',
        'password = "<your password>"',  # placeholders
        'password = "***"',
        'password = "${DB_PASSWORD}"',
        "password = {{ vault_password }}",
        'password = "<SECRET>"',  # already scrubbed: scrubbing twice changes nothing
        "password = null",
        "password = user_password",  # a variable, not a literal
        "password = config.db.password2",
        "password = get_password(2)",
    ],
)
def test_values_that_are_not_secrets(line: str) -> None:
    assert scrub(line) == (line, {})


def test_scrubbing_is_idempotent() -> None:
    once, _ = scrub('db_password = "s3cret-value" and AKIAIOSFODNN7EXAMPLE, mail ops@example.com')
    assert scrub(once) == (once, {})
