"""A git post-commit hook that tells the loop about every new commit: `ouro hooks install REPO`.

The hook is a POSIX sh script. It reads the new HEAD's sha and branch (synchronously: during a
rebase HEAD moves on before a background job would look), starts the publisher
`<python> -m ouro.hooks_cli emit commit ...` in the background with its output in
`.git/ouro/hook.log`, and exits at once: a commit is never failed and never waits on NATS.
When NATS is down the event is spooled in `.git/ouro/spool/` and sent by the next commit's hook
or `ouro emit flush --repo REPO`.

An existing post-commit hook that is not ours is kept as `post-commit.ouro-chained` and run first,
with the same arguments; its exit status stays the hook's exit status.
"""

from __future__ import annotations

import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import git

MARKER = "# ouroboros post-commit hook"
CHAINED_NAME = "post-commit.ouro-chained"


class HookError(Exception):
    """The hook cannot be installed as asked (not a git work tree, an unreadable hooks dir)."""


@dataclass(frozen=True)
class Installed:
    hook: Path
    chained: Path | None  # the user's earlier hook, now run first by ours
    git_dir: Path

    @property
    def spool_dir(self) -> Path:
        return spool_dir(self.git_dir)


def spool_dir(git_dir: Path) -> Path:
    return git_dir / "ouro" / "spool"


def git_dir_of(repo: Path) -> Path:
    """The repository's (common) .git directory; worktrees share the main one's hooks and spool."""
    try:
        r = git.Repo(repo)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise HookError(f"{repo} is not a git repository (no .git there); pass the root of a clone") from None
    if r.bare:
        raise HookError(f"{repo} is a bare repository: nothing is committed there, so no hook is needed")
    return Path(r.common_dir).resolve()


def hooks_dir(repo: Path) -> Path:
    """Where git looks for hooks: `core.hooksPath` when set, else .git/hooks."""
    out = git.Git(str(repo)).execute(["git", "rev-parse", "--git-path", "hooks"])
    path = Path(str(out).strip())
    return (path if path.is_absolute() else Path(repo) / path).resolve()


def render(*, python: Path, project_root: Path, nats_url: str, git_dir: Path, chained: Path | None,
           data_dir: Path | None = None) -> str:
    q = shlex.quote
    # The emitter's NATS password is read at emit time from <data_dir>/auth (never copied in here).
    auth = f"OURO_DATA_DIR={q(str(data_dir))} " if data_dir else ""
    ouro = git_dir / "ouro"
    run_chained = (
        f'if [ -x {q(str(chained))} ]; then {q(str(chained))} "$@"; status=$?; fi\n' if chained else ""
    )
    return f"""#!/bin/sh
{MARKER} (installed by `ouro hooks install`; reinstalling keeps the chained hook)
# Publishes ouro.commits.new for the new HEAD in the background and exits at once: it never
# fails or slows a commit. If NATS is down the event waits in {ouro}/spool.
status=0
{run_chained}sha=$(git rev-parse HEAD 2>/dev/null) || exit $status
branch=$(git symbolic-ref --short -q HEAD || echo HEAD)
top=$(git rev-parse --show-toplevel)
mkdir -p {q(str(ouro))}
{auth}PYTHONPATH={q(str(project_root))}${{PYTHONPATH:+:$PYTHONPATH}} \\
  nohup {q(str(python))} -m ouro.hooks_cli emit commit \\
  --repo "$top" --sha "$sha" --branch "$branch" --nats-url {q(nats_url)} --spool-dir {q(str(ouro / "spool"))} \\
  </dev/null >>{q(str(ouro / "hook.log"))} 2>&1 &
exit $status
"""


def install(repo: Path, *, nats_url: str, python: Path | None = None, data_dir: Path | None = None) -> Installed:
    """Write the post-commit hook of `repo`, chaining any existing foreign hook; idempotent."""
    repo = Path(repo).resolve()
    gdir = git_dir_of(repo)
    hdir = hooks_dir(repo)
    hdir.mkdir(parents=True, exist_ok=True)
    hook = hdir / "post-commit"
    chained_path = hdir / CHAINED_NAME
    if hook.exists() and MARKER not in hook.read_text(encoding="utf-8", errors="replace"):
        if chained_path.exists():
            raise HookError(f"{hook} is not ours and {chained_path} already exists: merge them by hand, then rerun")
        hook.rename(chained_path)
    chained = chained_path if chained_path.exists() else None
    project_root = Path(__file__).resolve().parents[2]
    text = render(python=Path(python or sys.executable).absolute(), project_root=project_root,
                  nats_url=nats_url, git_dir=gdir, chained=chained,
                  data_dir=Path(data_dir).resolve() if data_dir else None)
    tmp = hook.with_name(".post-commit.ouro.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH | stat.S_IRUSR)
    tmp.replace(hook)
    return Installed(hook=hook, chained=chained, git_dir=gdir)
