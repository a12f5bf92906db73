"""Run code the loop did not write (a model's answer, a repository's tests) confined.

    result = run_python({"solution.py": code, "test_it.py": tests}, "test_it.py", timeout_s=4)

Each run gets its own directory (owned by an unprivileged user, outside /tmp) and runs:
- in new mount, network and PID namespaces (`unshare`): no network at all — not even loopback —
  and /tmp, /var/tmp and /dev/shm are remounted read-only;
- as `nobody` (`setpriv`, no new privileges, no supplementary groups), so nothing outside its
  directory is writable;
- with rlimits on CPU seconds, address space, processes, file size and open files, a wall-clock
  timeout that kills the whole process tree, and a clean environment;
- with `python -E -s` (no PYTHON* variables, no user site; its own directory first on sys.path).
Where the machine cannot make the namespaces (not root, no `unshare`), `available()` says why and
`run_python` raises SandboxUnavailable: model code is never run unconfined.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from shared import metrics

NOBODY = 65534
MASKED = ("/tmp", "/var/tmp", "/dev/shm")


class SandboxUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 10
    memory_bytes: int = 2 * 1024**3
    processes: int = 32
    file_bytes: int = 16 * 1024**2
    open_files: int = 64


@dataclass(frozen=True)
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _root() -> Path:
    """Where run directories live: outside the masked /tmp, on a path `nobody` may traverse
    (a home directory is usually 0700); OURO_SANDBOX_DIR overrides."""
    base = Path(os.environ.get("OURO_SANDBOX_DIR", "/var/lib/ouroboros/sandbox"))
    base.mkdir(parents=True, exist_ok=True)
    for d in (base, *base.parents):
        if d == Path("/") or not d.exists():
            break
        if d.stat().st_uid == os.geteuid():
            d.chmod(d.stat().st_mode | 0o011)  # traversable, not listable
    return base


def _command(script: str) -> list[str]:
    # read-only, not hidden: the interpreter itself may live under /tmp (a CI checkout's venv)
    mounts = " && ".join(f"mount --bind {d} {d} && mount -o remount,bind,ro {d}" for d in MASKED if Path(d).is_dir())
    inner = (f"mount --make-rprivate / && {mounts} && exec setpriv --reuid={NOBODY} --regid={NOBODY} "
             f"--clear-groups --no-new-privs {sys.executable} -E -s {script}")
    return ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--", "sh", "-c", inner]


@functools.cache
def available() -> str | None:
    """None when the sandbox works here, else why not (checked once, by running it)."""
    if os.name != "posix" or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        return "needs Linux with util-linux `unshare` and `setpriv`"
    if os.geteuid() != 0:
        return "needs root to make mount and network namespaces and drop to an unprivileged user"
    try:
        result = _run({"probe.py": "print('ok')"}, "probe.py", 20.0, Limits())
    except OSError as err:
        return f"could not start: {err}"
    if result.stdout.strip() != "ok":
        return f"probe failed: {result.stderr.strip()[-300:] or result.returncode}"
    return None


def _limits(limits: Limits) -> None:
    os.setsid()
    for what, value in ((resource.RLIMIT_CPU, limits.cpu_s), (resource.RLIMIT_AS, limits.memory_bytes),
                        (resource.RLIMIT_NPROC, limits.processes), (resource.RLIMIT_FSIZE, limits.file_bytes),
                        (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(what, (value, value))


def _run(files: dict[str, str], main: str, timeout_s: float, limits: Limits) -> SandboxResult:
    work = Path(tempfile.mkdtemp(prefix="run-", dir=_root()))
    try:
        for name, text in files.items():
            path = work / name
            if path.parent != work:
                raise ValueError(f"sandbox file names are plain names, got {name!r}")
            path.write_text(text, encoding="utf-8")
        os.chown(work, NOBODY, NOBODY)
        os.chmod(work, 0o700)
        for path in work.iterdir():
            os.chown(path, NOBODY, NOBODY)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONHASHSEED": "0"}
        started = time.monotonic()
        proc = subprocess.Popen(_command(main), cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, preexec_fn=functools.partial(_limits, limits))
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # unshare --kill-child takes the whole tree with it
            out, err = proc.communicate()
        return SandboxResult(proc.returncode, out.decode(errors="replace")[-20_000:],
                             err.decode(errors="replace")[-20_000:], timed_out, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_python(files: dict[str, str], main: str, *, timeout_s: float = 4.0, limits: Limits | None = None
               ) -> SandboxResult:
    """Run `python -I main` over `files` in a fresh sandbox directory; raises SandboxUnavailable."""
    why = available()
    if why is not None:
        raise SandboxUnavailable(f"the sandbox cannot run here ({why}); model code is not run unconfined")
    result = _run(files, main, timeout_s, limits or Limits())
    # A limit hit (the wall clock, or a signal from an rlimit) is what the sandbox-violation alert counts.
    outcome = "timeout" if result.timed_out else "killed" if result.returncode < 0 else (
        "ok" if result.returncode == 0 else "failed")
    metrics.SANDBOX_RUNS.labels(outcome).inc()
    return result
