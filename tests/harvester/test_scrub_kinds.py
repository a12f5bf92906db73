"""Every secret kind the scrubber names has a real-format (fake) sample that it must replace.

Guards the promise "a secret never reaches training data": removing or weakening any one
detector (say, the Hugging Face token pattern) fails the sample of that kind here, and a new
kind added to the scrubber without a sample fails `test_every_kind_has_a_sample`.
"""

from __future__ import annotations

import re

import pytest

from shared import scrub as scrub_module
from shared.scrub import EMAIL, SECRET, scrub

# One realistic sample per kind, embedded in the kind of text the harvester sees.
SAMPLES: dict[str, tuple[str, str]] = {
    # kind: (text containing the secret, the secret itself)
    "aws_access_key": ("aws_region = eu-west-1; key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    "github_token": ("export GH=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 # ci",
                     "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    "slack_token": ("bot: xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx ok",
                    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"),
    "slack_webhook": ("post to https://hooks.slack.com/services/T024BE7LD/B01234567/abcdefghijklmnopqrstuvwx now",
                      "T024BE7LD/B01234567/abcdefghijklmnopqrstuvwx"),
    "stripe_key": ("charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc please", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    "openai_key": ("client(sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z)", "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"),
    "google_api_key": ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q end",
                       "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    "huggingface_token": ("huggingface-cli login --token hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 done",
                          "hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    "jwt": ("cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U;",
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    "bearer_token": ("curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0.zz' https://api",
                     "9f8e7d6c5b4a39281706f5e4d3c2b1a0.zz"),
    "url_credentials": ("clone https://deploy:pa55w0rd@git.internal/repo.git", "deploy:pa55w0rd"),
    "private_key": ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n"
                    "-----END OPENSSH PRIVATE KEY-----", "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"),
    "base64_blob": ("@@ -1,3 +1,3 @@ MIIEowIBAAKCAQEAx4Zk9Q0abcdefGHIJKLmnopqrstuvWXYZ0123456789abcdEF",
                    "MIIEowIBAAKCAQEAx4Zk9Q0abcdefGHIJKLmnopqrstuvWXYZ0123456789abcdEF"),
    "assignment": ('DB_PASSWORD = "correct-horse-battery"', "correct-horse-battery"),
    "email": ("Reported-by: Jane Roe <jane.roe@corp.example.com>", "jane.roe@corp.example.com"),
}


def named_kinds() -> set[str]:
    """Every kind the scrubber can report: its token patterns plus the kinds `scrub()` names itself."""
    kinds = {kind for kind, _ in scrub_module._TOKEN_PATTERNS}
    source = open(scrub_module.__file__, encoding="utf-8").read()  # noqa: SIM115 - read once
    kinds |= set(re.findall(r'\bsub\(\s*"([a-z0-9_]+)"', source))
    return kinds


def test_every_kind_has_a_sample() -> None:
    kinds = named_kinds()
    assert {"huggingface_token", "google_api_key", "slack_webhook", "bearer_token", "email"} <= kinds
    assert kinds == set(SAMPLES), f"kinds without a sample: {sorted(kinds - set(SAMPLES))}"


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_is_replaced_and_counted(kind: str) -> None:
    text, secret = SAMPLES[kind]
    out, counts = scrub(text)
    assert secret not in out, out
    assert (EMAIL if kind == "email" else SECRET) in out
    assert counts == {kind: 1}, counts


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_kind_is_caught_in_a_diff_line_too(kind: str) -> None:
    """The harvester feeds `+`-prefixed diff lines; the secret must not survive there either."""
    text, secret = SAMPLES[kind]
    diff = "\n".join("+" + line for line in text.splitlines())
    out, counts = scrub(diff)
    assert secret not in out
    assert sum(counts.values()) >= 1


@pytest.mark.parametrize(
    "text",
    [
        "hf_hub_download(repo_id, filename)",  # an identifier, not a token
        "AIza is the prefix of Google API keys",
        "See https://hooks.slack.com/services/ for the docs",
        "Bearer tokens go in the Authorization header.",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert scrub(text) == (text, {})
