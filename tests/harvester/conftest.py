"""Real temporary git repositories for the harvester tests."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

ACTOR = git.Actor("Test Dev", "dev@example.org")


class RepoBuilder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = git.Repo.init(root, initial_branch="main")

    def write(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")

    def commit(self, message: str, files: dict[str, str | bytes] | None = None,
               remove: tuple[str, ...] = ()) -> str:
        if files:
            self.write(files)
            self.repo.index.add(sorted(files))
        if remove:
            self.repo.index.remove(list(remove), working_tree=True)
        c = self.repo.index.commit(message, author=ACTOR, committer=ACTOR)
        return c.hexsha


@pytest.fixture
def repo_builder(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder(tmp_path / "repo")


PARSER_V1 = '''"""Parse tiny config files."""


def parse_line(line: str) -> tuple[str, str]:
    """Split one `key = value` line into its key and value.

    Blank values are kept as empty strings so callers can tell "unset" from "missing".
    """
    key, _, value = line.partition("=")
    if not key.strip():
        raise ValueError(f"line has no key: {line!r}")
    return key.strip(), value[:-1].strip()
'''

PARSER_V2 = PARSER_V1.replace("value[:-1].strip()", "value.strip()")


@pytest.fixture
def small_repo(repo_builder: RepoBuilder) -> RepoBuilder:
    """Three commits: a feature, a bugfix in it, and a test."""
    repo_builder.commit("Add config parser", {"pkg/__init__.py": "", "pkg/parser.py": PARSER_V1})
    repo_builder.commit(
        "Fix off-by-one in parse_line that dropped the last character of every value\n\n"
        "The slice value[:-1] assumed a trailing newline; lines from splitlines() have none.",
        {"pkg/parser.py": PARSER_V2},
    )
    repo_builder.commit(
        "Add tests for parse_line",
        {"tests/test_parser.py": "from pkg.parser import parse_line\n\n\ndef test_parse():\n"
                                 "    assert parse_line('a = b') == ('a', 'b')\n"},
    )
    return repo_builder
