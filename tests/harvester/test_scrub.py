from __future__ import annotations

import pytest

from shared.scrub import scrub

# Real-format (but fake) secrets, one per detector.
SECRETS = {
    "aws_access_key": "AKIAIOSFODNN7EXAMPLE",
    "github_token": "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "slack_token": "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "openai_key": "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "stripe_key": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_token_kinds_are_replaced(kind: str) -> None:
    text, counts = scrub(f"config: use {SECRETS[kind]} for the call")
    assert SECRETS[kind] not in text
    assert "<SECRET>" in text
    assert counts == {kind: 1}


def test_github_fine_grained_pat() -> None:
    pat = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEF"
    assert pat not in scrub(f"token {pat}")[0]


def test_pem_block_in_a_diff() -> None:
    diff = "+-----BEGIN RSA PRIVATE KEY-----\n+MIIEowIBAAKCAQEAx4Zk9Q0abcdef\n+-----END RSA PRIVATE KEY-----\n+x = 1"
    text, counts = scrub(diff)
    assert "MIIEow" not in text and text.endswith("+x = 1")
    assert counts == {"private_key": 1}


def test_truncated_pem_block() -> None:
    text, _ = scrub("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nMIIEvQIBADANBgkqhkiG")
    assert "MIIEvQ" not in text


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('password = "hunter2!"', 'password = "<SECRET>"'),
        ("DB_PASSWORD=hunter2", "DB_PASSWORD=<SECRET>"),
        ('db_password: str = "s3cret"', 'db_password: str = "<SECRET>"'),
        ('{"client_secret": "abcXYZ123"}', '{"client_secret": "<SECRET>"}'),
        ("api_key: 9f8e7d6c5b4a", "api_key: <SECRET>"),
        ("https://admin:pa55word@db.internal/x", "https://<SECRET>@db.internal/x"),
    ],
)
def test_assignments(line: str, expected: str) -> None:
    assert scrub(line)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        "api_key = settings.api_key",
        "secret = None",
        "token = tokens[i]",
        "The secret: keep answers short and cite the diff.",
        "def check_password(password: str) -> bool:",
        "Use a password manager; never commit secrets.",
        "sk-learn is not a key, nor is task-runner",
    ],
)
def test_code_and_prose_are_left_alone(text: str) -> None:
    assert scrub(text) == (text, {})


def test_email() -> None:
    text, counts = scrub("Signed-off-by: Jane Roe <jane.roe@corp.example.com>")
    assert text == "Signed-off-by: Jane Roe <<EMAIL>>"
    assert counts == {"email": 1}


def test_pem_body_line_without_markers() -> None:
    line = "MIIEowIBAAKCAQEAx4Zk9Q0abcdefGHIJKLmnopqrstuvWXYZ0123456789abcdEF"
    assert scrub(f"@@ -7,6 +7,6 @@ {line}\n def f():")[0] == "@@ -7,6 +7,6 @@ <SECRET>\n def f():"
    path = "services/harvester/generators/conciseness_and_targeted_variants"
    sha = "c4f65267506892f46ba9db743ce1465ea1e640a8"
    assert scrub(f"{path} at {sha}") == (f"{path} at {sha}", {})
