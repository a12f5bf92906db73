"""Scrubbing replaces only a secret's characters: Python and YAML that carried secrets still parse,
and the structure around each secret is what it was (only the secret values differ)."""

from __future__ import annotations

import ast

import pytest
import yaml

from shared.scrub import SECRET, scrub

AWS = "AKIAIOSFODNN7EXAMPLE"
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Zk9Q0abcdefGHIJKLmnopqrstuvWXYZ0123456789abcdEF\n"
       "-----END RSA PRIVATE KEY-----")

PYTHON = f'''
import os

DB_PASSWORD = "hunter2-prod"
API_KEY: str = 'sk_live_{"4eC39HqLyjWDarjtT1zdp7dc"}'
TOKEN = b"{GH}"
HEADERS = {{"Authorization": "Bearer {JWT}", "X-Api-Key": "{AWS}"}}
URL = "https://admin:pa55word@db.internal/app"
KEY = """{PEM}"""


class Signer:
    def __init__(self, secret_key, password=None):
        # the line the old scrubber broke: an expression after `secret_keys =` is code, not a secret
        self.secret_keys = [to_bytes(s) for s in secret_key]
        self.password = password or os.environ["PASSWORD"]
        self.api_token = f"tok-{{secret_key}}-9f8e7d6c5b4a"
        self.owner = "jane.roe@corp.example.com"

    def check(self, password: str) -> bool:
        return password == "correct horse battery staple" and self.secret_keys


def to_bytes(s):
    return s.encode()
'''

YAML = f"""
database:
  host: db.internal
  password: hunter2-prod
  url: "postgres://app:s3cr3t-pw@db.internal:5432/app"
api:
  api_key: 9f8e7d6c5b4a
  github_token: {GH}
  keys: [{AWS}, "{JWT}"]
  client_secret: "abcXYZ123"
tls:
  private_key: |
    {PEM.replace(chr(10), chr(10) + "    ")}
owners:
  - name: Jane Roe
    email: jane.roe@corp.example.com
flow: {{user: app, password: hunter22}}
"""


def test_scrubbed_python_still_parses_with_the_same_shape() -> None:
    clean, counts = scrub(PYTHON)
    for secret in (AWS, GH, JWT, "hunter2-prod", "pa55word", "MIIEowIBAAKCAQEAx4Zk9Q0", "9f8e7d6c5b4a",
                   "correct horse battery staple", "jane.roe@"):
        assert secret not in clean, secret
    assert sum(counts.values()) >= 9
    before, after = ast.parse(PYTHON), ast.parse(clean)  # raises SyntaxError if scrubbing broke the code
    # Same statements and expressions: only the contents of string constants changed.
    shape = [type(n).__name__ for n in ast.walk(before)]
    assert [type(n).__name__ for n in ast.walk(after)] == shape
    assert "self.secret_keys = [to_bytes(s) for s in secret_key]" in clean
    assert 'TOKEN = b"<SECRET>"' in clean


def test_scrubbed_yaml_still_loads_with_the_same_keys() -> None:
    clean, _ = scrub(YAML)
    for secret in (AWS, GH, JWT, "hunter2-prod", "s3cr3t-pw", "MIIEowIBAAKCAQEAx4Zk9Q0", "9f8e7d6c5b4a",
                   "abcXYZ123", "hunter22", "jane.roe@"):
        assert secret not in clean, secret
    before, after = yaml.safe_load(YAML), yaml.safe_load(clean)

    def keys(node, path=()):  # every key path and list length: the document's structure
        if isinstance(node, dict):
            return {p for k, v in node.items() for p in keys(v, (*path, k))} | {path}
        if isinstance(node, list):
            return {p for i, v in enumerate(node) for p in keys(v, (*path, i))} | {path}
        return {path}

    assert keys(after) == keys(before)
    assert after["database"]["password"] == SECRET and after["api"]["keys"] == [SECRET, SECRET]
    assert after["database"]["host"] == "db.internal" and after["flow"] == {"user": "app", "password": SECRET}
    assert SECRET in after["tls"]["private_key"]


@pytest.mark.parametrize(("text", "secret"), [
    # generated secrets that happen to hold a bracket are secrets, not code: the whole value goes
    ("POSTGRES_PASSWORD=Tr0ub4dor{x9Lq", "Tr0ub4dor{x9Lq"),
    ("DB_PASSWORD=p@ss<w0rd>zz", "p@ss<w0rd>zz"),
    ("API_KEY=[k3y]abcdef", "[k3y]abcdef"),
    ("SECRET_KEY=x9!k(2@u_ab=+)zz", "x9!k(2@u_ab=+)zz"),  # a Django key's alphabet has brackets
    # a literal inside an f-string field may be the secret itself
    ("password = f\"{os.getenv('PW') or 'Sup3rS3cret'}\"", "Sup3rS3cret"),
])
def test_no_part_of_a_secret_survives(text: str, secret: str) -> None:
    clean, counts = scrub(text)
    assert counts and secret not in clean and all(part not in clean for part in (secret[-4:], secret[:4]))


def test_code_around_a_keyword_is_left_alone() -> None:
    for code in ("secret_keys = [to_bytes(s) for s in secret_key]", 'password = os.environ["X"]',
                 "api_key = get_key(cfg)", "connect(password=pw, user=x)"):
        assert scrub(code)[0] == code
    assert scrub("connect(password=abc123)")[0] == "connect(password=<SECRET>)"  # the call's `)` stays
