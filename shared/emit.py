"""Publish events from outside the loop (git hooks, applications) without ever losing one.

    from shared.emit import SessionLogger, emit, flush
    sent = emit(CommitsNew(cycle_id=new_id(), repo=repo, sha=sha, branch="main"),
                nats_url="nats://127.0.0.1:4222", spool_dir=Path(".git/ouro/spool"))
    with SessionLogger("s-1", nats_url, spool_dir) as session:
        session.log("user", "Start a cycle for the coder.")
        session.log("assistant", "Started cycle c-1.")

Every event is first appended to `<spool_dir>/spool.jsonl` (one `{"subject", "event"}` JSON per
line, fsynced), then the whole spool is sent in order and what was sent is removed. So NATS being
down, slow, or the process dying mid-way leaves the event in the spool for the next emit or
`flush`. A resend carries the same `Nats-Msg-Id` (the event id), so an event that reached the
server just before a crash is dropped by JetStream's dedup instead of being delivered twice.

The functions are synchronous (a hook or a script calls them); from async code use
`await asyncio.to_thread(emit, ...)`.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NamedTuple, TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError

from shared.events import ChatMessage, Event, SessionsNew, decode, new_id, subject_of
from shared.nats_auth import client_auth

log = logging.getLogger("ouro.emit")
TOO_LARGE = "too_large.jsonl"  # events the server can never accept: kept for audit, not resent

SPOOL_FILE = "spool.jsonl"
LOCK_FILE = "spool.lock"
CORRUPT_FILE = "spool.corrupt"  # unreadable lines (a write cut by a crash) are moved here for audit

T = TypeVar("T")


class Flushed(NamedTuple):
    sent: int
    pending: int


# ---------------------------------------------------------------- the spool file


@contextmanager
def _locked(spool_dir: Path) -> Iterator[None]:
    """An exclusive lock on the spool: a hook's flush and a concurrent commit's append do not interleave."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(spool_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _line(event: Event) -> bytes:
    body = {"subject": subject_of(event).value, "event": json.loads(event.model_dump_json())}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _append(spool_dir: Path, events: list[Event]) -> None:
    """Append under the lock with O_APPEND and fsync; a line cut short by a crash is isolated, not glued to."""
    path = spool_dir / SPOOL_FILE
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        data = b"".join(_line(e) for e in events)
        size = os.fstat(fd).st_size
        if size:
            with path.open("rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    data = b"\n" + data
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _read(spool_dir: Path) -> list[Event]:
    """The spooled events in order; unreadable lines are moved to spool.corrupt and logged, never raised."""
    path = spool_dir / SPOOL_FILE
    if not path.exists():
        return []
    events: list[Event] = []
    bad: list[bytes] = []
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            body = json.loads(raw)
            events.append(decode(body["subject"], json.dumps(body["event"]).encode()))
        except (ValueError, KeyError, TypeError):
            bad.append(raw)
    if bad:
        log.warning("%d unreadable line(s) in %s moved to %s", len(bad), path, CORRUPT_FILE)
        with (spool_dir / CORRUPT_FILE).open("ab") as f:
            f.write(b"".join(b + b"\n" for b in bad))
        _rewrite(spool_dir, events)
    return events


def _rewrite(spool_dir: Path, events: list[Event]) -> None:
    """Replace the spool atomically (temp file + rename): a crash leaves the old or the new, never half."""
    path = spool_dir / SPOOL_FILE
    if not events:
        path.unlink(missing_ok=True)
        return
    tmp = spool_dir / f".{SPOOL_FILE}.{os.getpid()}.tmp"
    with tmp.open("wb") as f:
        f.write(b"".join(_line(e) for e in events))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def pending(spool_dir: Path | str) -> list[Event]:
    """The events waiting in the spool, oldest first."""
    spool_dir = Path(spool_dir)
    with _locked(spool_dir):
        return _read(spool_dir)


# ---------------------------------------------------------------- sending


async def _connect(nats_url: str, timeout: float) -> NATS | None:
    async def quiet(err: Exception) -> None:  # nats-py's default error callback logs a traceback
        log.debug("nats: %s", err)

    # nats-py only gives up on a server after `max_reconnect_attempts` (> 0) failures, sleeping
    # `reconnect_time_wait` between them: 0 would retry forever, the default wait costs 2 s.
    auth = client_auth("emitter")  # OURO_NATS_USER/..., else the emitter's password in the data dir
    try:
        return await asyncio.wait_for(
            nats.connect(nats_url, name="ouro-emit", connect_timeout=timeout, allow_reconnect=False,
                         max_reconnect_attempts=1, reconnect_time_wait=0, error_cb=quiet,
                         **(auth.options() if auth else {})),
            timeout * 2,
        )
    except Exception as err:  # noqa: BLE001 - refused, unresolvable, slow: all mean "spool it"
        log.info("NATS at %s unreachable (%s); events stay spooled", nats_url, err or type(err).__name__)
        return None


async def _send_spool(nc: NATS, spool_dir: Path, timeout: float) -> Flushed:
    """Publish the spool in order under the lock; stop at the first failure and keep the rest."""
    js = nc.jetstream()
    with _locked(spool_dir):
        events = _read(spool_dir)
        sent = 0
        too_large: list[Event] = []
        for event in events:
            data = event.model_dump_json().encode()
            headers = {"Nats-Msg-Id": event.event_id}
            if len(data) > nc.max_payload:
                # The server will never take it: set it aside (kept for audit), don't block the rest.
                log.error("event %s is %d bytes, over NATS' max_payload %d: moved to %s", event.event_id,
                          len(data), nc.max_payload, spool_dir / TOO_LARGE)
                too_large.append(event)
                sent += 1
                continue
            try:
                try:
                    await js.publish(subject_of(event).value, data, headers=headers, timeout=timeout)
                except NoRespondersError:
                    # No stream yet (the loop has never run on this server): create it the way the
                    # services do, so the event waits in the stream instead of on this disk.
                    from shared.bus import Bus

                    await Bus(nc, "ouro-emit").ensure_stream()
                    await js.publish(subject_of(event).value, data, headers=headers, timeout=timeout)
            except Exception as err:  # noqa: BLE001 - a slow or failing server: keep it for next time
                log.info("publishing %s failed (%s); %d event(s) stay spooled", event.event_id,
                         err or type(err).__name__, len(events) - sent)
                break
            sent += 1
        if too_large:
            with open(spool_dir / TOO_LARGE, "a", encoding="utf-8") as f:
                for event in too_large:
                    f.write(json.dumps({"subject": subject_of(event).value, "event": event.model_dump(mode="json")})
                            + "\n")
                f.flush()
                os.fsync(f.fileno())
        if sent:
            _rewrite(spool_dir, events[sent:])
        return Flushed(sent=sent, pending=len(events) - sent)


async def _flush(nats_url: str, spool_dir: Path, timeout: float) -> Flushed:
    nc = await _connect(nats_url, timeout)
    if nc is None:
        with _locked(spool_dir):
            return Flushed(sent=0, pending=len(_read(spool_dir)))
    try:
        return await _send_spool(nc, spool_dir, timeout)
    finally:
        try:
            await asyncio.wait_for(nc.close(), timeout)
        except Exception:  # noqa: BLE001 - the events are acked; a slow close changes nothing
            pass


def _run(coro: Coroutine[object, object, T]) -> T:
    """asyncio.run, also when called from a thread that already runs a loop (an async application)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def flush(*, nats_url: str, spool_dir: Path | str, timeout: float = 1.0) -> Flushed:
    """Resend everything spooled, in order; what was sent leaves the spool."""
    return _run(_flush(nats_url, Path(spool_dir), timeout))


def emit(event: Event, *, nats_url: str, spool_dir: Path | str, timeout: float = 1.0) -> bool:
    """Publish `event` after everything spooled before it. True: the server has it; False: it is spooled.

    `timeout` bounds the connect and each publish, so a down or hung server costs about that long.
    """
    spool_dir = Path(spool_dir)
    with _locked(spool_dir):
        _append(spool_dir, [event])
    _run(_flush(nats_url, spool_dir, timeout))
    with _locked(spool_dir):
        set_aside = spool_dir / TOO_LARGE
        if set_aside.exists() and event.event_id in set_aside.read_text(encoding="utf-8"):
            return False  # never sendable: kept for audit, not in the stream
        return all(e.event_id != event.event_id for e in _read(spool_dir))


# ---------------------------------------------------------------- applications


class SessionLogger:
    """Accumulate one session's turns and emit them as one `SessionsNew` when closed.

    Texts are scrubbed of secrets as they are logged, so neither the spool on this disk nor the
    event stream ever holds a key the application saw.
    """

    def __init__(self, session_id: str, nats_url: str, spool_dir: Path | str, *, timeout: float = 1.0) -> None:
        if not session_id:
            raise ValueError("`session_id` must be a non-empty string")
        self.session_id = session_id
        self.nats_url = nats_url
        self.spool_dir = Path(spool_dir)
        self.timeout = timeout
        self.messages: list[ChatMessage] = []
        self.sent: bool | None = None  # None until closed

    def log(self, role: Literal["system", "user", "assistant", "tool"], content: str) -> None:
        from shared.scrub import scrub

        if self.sent is not None:
            raise ValueError(f"session {self.session_id} is closed; start a new SessionLogger")
        self.messages.append(ChatMessage(role=role, content=scrub(content)[0]))

    def close(self) -> bool:
        """Emit the session once (later calls return the first result). True: sent; False: spooled.

        A session with no messages emits nothing and returns True.
        """
        if self.sent is None:
            if not self.messages:
                self.sent = True
            else:
                event = SessionsNew(cycle_id=new_id(), session_id=self.session_id, format="openai",
                                    messages=tuple(self.messages))
                self.sent = emit(event, nats_url=self.nats_url, spool_dir=self.spool_dir, timeout=self.timeout)
        return self.sent

    def __enter__(self) -> SessionLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
