"""Read commits and their patches with ONE `git log -p` call and parse the text.

One subprocess for the whole range instead of one `git diff` per commit keeps a 500-commit
harvest in seconds. Parsing stays here so the generator reads like what it teaches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import git

_REC, _FIELD, _END = "\x1e", "\x1f", "\x1d"
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


@dataclass
class Hunk:
    old_start: int
    new_start: int
    header: str  # the function/class line git shows after @@, often the enclosing def
    lines: list[str] = field(default_factory=list)  # with their " ", "+", "-" prefix

    @property
    def before(self) -> str:
        return "\n".join(ln[1:] for ln in self.lines if ln[:1] in (" ", "-"))

    @property
    def after(self) -> str:
        return "\n".join(ln[1:] for ln in self.lines if ln[:1] in (" ", "+"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def new_span(self) -> tuple[int, int]:
        n = sum(1 for ln in self.lines if ln[:1] in (" ", "+"))
        return (self.new_start, self.new_start + max(n, 1) - 1)


@dataclass
class FileDiff:
    path: str
    old_path: str | None = None
    status: str = "modified"  # modified | added | deleted | renamed | binary | mode
    patch: str = ""
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for h in self.hunks for ln in h.lines if ln.startswith("-"))


@dataclass
class Commit:
    sha: str
    parents: list[str]
    message: str
    files: list[FileDiff] = field(default_factory=list)
    author: str = ""  # "Name <email>": bot authors (dependabot, pre-commit-ci, ...) are skipped by name

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


def _parse_files(patch: str) -> list[FileDiff]:
    files: list[FileDiff] = []
    cur: FileDiff | None = None
    hunk: Hunk | None = None
    body: list[str] = []

    def close() -> None:
        if cur is not None:
            cur.patch = "\n".join(body)
            files.append(cur)

    for line in patch.split("\n"):
        if line.startswith("diff --git "):
            close()
            body = [line]
            # "diff --git a/x b/x": the b/ side is authoritative, fixed below by +++ / rename to
            m = re.match(r"diff --git a/(.*) b/(.*)$", line)
            cur = FileDiff(path=m.group(2) if m else line[11:])
            hunk = None
            continue
        if cur is None:
            continue
        body.append(line)
        if hunk is not None and line[:1] in (" ", "+", "-", "\\"):
            if not line.startswith("\\"):
                hunk.lines.append(line)
            continue
        if m := _HUNK.match(line):
            hunk = Hunk(int(m.group(1)), int(m.group(3)), m.group(5).strip())
            cur.hunks.append(hunk)
        elif line.startswith("rename from "):
            cur.status, cur.old_path = "renamed", line[12:]
        elif line.startswith("rename to "):
            cur.path = line[10:]
        elif line.startswith("new file mode"):
            cur.status = "added"
        elif line.startswith("deleted file mode"):
            cur.status = "deleted"
        elif line.startswith("Binary files ") or line.startswith("GIT binary patch"):
            cur.status = "binary"
        elif line.startswith("+++ b/"):
            cur.path = line[6:]
    close()
    for f in files:
        if f.status == "modified" and not f.hunks:
            f.status = "mode"  # a chmod-only change: no text to learn from
    return files


def read_commits(root: Path, rev_range: str, max_commits: int) -> list[Commit]:
    """Commits in `rev_range` (newest first, as git gives them), at most `max_commits`."""
    raw = git.Git(str(root)).execute(
        [
            "git", "-c", "core.quotepath=off", "log", f"--max-count={max_commits}",
            f"--format={_REC}%H{_FIELD}%P{_FIELD}%an <%ae>{_FIELD}%B{_END}", "-p", "-M", "--no-color", "--no-ext-diff",
            "--diff-merges=off", "-U3", rev_range, "--",
        ],
        stdout_as_string=False,
    )
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    commits: list[Commit] = []
    for rec in text.split(_REC)[1:]:
        head, _, patch = rec.partition(_END)
        sha, parents, author, message = (head.split(_FIELD, 3) + ["", "", ""])[:4]
        commits.append(Commit(sha.strip(), parents.split(), message.strip(), _parse_files(patch.strip("\n")),
                              author=author.strip()))
    return commits


def commit_range(repo: git.Repo, since: str | None) -> tuple[str, bool]:
    """The revision range after the watermark `since` ("HEAD" when there is none), and whether the
    watermark was unknown (history rewritten, another repository): then the range falls back to
    "HEAD", which `read_commits` bounds to the last `max_commits`."""
    if since is None:
        return "HEAD", False
    try:
        # rev-parse --verify, not repo.commit(): GitPython trusts any 40-hex string without looking.
        sha = repo.git.rev_parse("--verify", "--quiet", f"{since}^{{commit}}").strip()
    except git.GitCommandError:
        return "HEAD", True
    return f"{sha}..HEAD", False
