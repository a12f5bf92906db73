"""The spooling publisher against a real nats-server: nothing is lost, nothing is delivered twice."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from pathlib import Path

from shared.bus import Bus
from shared.emit import CORRUPT_FILE, SPOOL_FILE, TOO_LARGE, SessionLogger, emit, flush, pending
from shared.events import CommitsNew, Event, SessionsNew, Subject, decode
from shared.nats_server import EmbeddedNats, free_port
from tests.busutil import read_stream


async def stream_events(bus: Bus, subject: Subject, cycle_ids: set[str], n: int, timeout: float = 5) -> list[Event]:
    """Every event of `subject` in the stream whose cycle id is in `cycle_ids` (waits for `n`, then drains)."""
    got: list[Event] = []
    sub = await bus.js.subscribe(subject.value, ordered_consumer=True)
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except Exception:
                if len(got) >= n:
                    break
                continue
            event = decode(msg.subject, msg.data)
            if event.cycle_id in cycle_ids:
                got.append(event)
    finally:
        await sub.unsubscribe()
    return got


def commit(cycle: str, sha: str = "a" * 40) -> CommitsNew:
    return CommitsNew(cycle_id=cycle, repo="/tmp/repo", sha=sha, branch="main")


def closed_url() -> str:
    return f"nats://127.0.0.1:{free_port()}"


async def test_down_then_up_delivers_both_exactly_once(bus: Bus, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    first, second = commit(uuid.uuid4().hex, "1" * 40), commit(uuid.uuid4().hex, "2" * 40)
    assert await asyncio.to_thread(emit, first, nats_url=closed_url(), spool_dir=tmp_path) is False
    assert [e.event_id for e in pending(tmp_path)] == [first.event_id]

    assert await asyncio.to_thread(emit, second, nats_url=nats_server.url, spool_dir=tmp_path) is True
    assert pending(tmp_path) == []
    got = await stream_events(bus, Subject.COMMITS_NEW, {first.cycle_id, second.cycle_id}, 2)
    assert [e.event_id for e in got] == [first.event_id, second.event_id]  # in order, once each


async def test_resend_after_crash_is_deduplicated(bus: Bus, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    event = commit(uuid.uuid4().hex)
    assert await asyncio.to_thread(emit, event, nats_url=nats_server.url, spool_dir=tmp_path)
    # A crash between the server's ack and the spool rewrite leaves the sent event spooled.
    (tmp_path / SPOOL_FILE).write_text(json.dumps({"subject": Subject.COMMITS_NEW.value,
                                                   "event": json.loads(event.model_dump_json())}) + "\n")
    assert await asyncio.to_thread(flush, nats_url=nats_server.url, spool_dir=tmp_path) == (1, 0)
    got = await stream_events(bus, Subject.COMMITS_NEW, {event.cycle_id}, 1)
    assert [e.event_id for e in got] == [event.event_id]


def test_a_line_cut_by_a_crash_does_not_corrupt_the_others(tmp_path: Path) -> None:
    first, second = commit("c1"), commit("c2")
    emit(first, nats_url=closed_url(), spool_dir=tmp_path)
    with (tmp_path / SPOOL_FILE).open("ab") as f:
        f.write(b'{"subject":"ouro.commits.new.v1","event":{"cycle_')  # the writer died here
    emit(second, nats_url=closed_url(), spool_dir=tmp_path)
    assert [e.event_id for e in pending(tmp_path)] == [first.event_id, second.event_id]
    assert (tmp_path / CORRUPT_FILE).read_bytes().startswith(b'{"subject":"ouro.commits.new.v1","event":{"cycle_')


def test_a_server_that_never_answers_spools_within_the_timeout(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts TCP connections, never sends INFO: a hung server
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"nats://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        assert emit(commit("slow"), nats_url=url, spool_dir=tmp_path, timeout=0.5) is False
        elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert len(pending(tmp_path)) == 1


def test_flush_with_nats_down_keeps_everything(tmp_path: Path) -> None:
    emit(commit("k1"), nats_url=closed_url(), spool_dir=tmp_path)
    assert flush(nats_url=closed_url(), spool_dir=tmp_path) == (0, 1)
    assert len(pending(tmp_path)) == 1


async def test_session_logger_emits_one_scrubbed_session(bus: Bus, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    sid = uuid.uuid4().hex
    key = "AKIA" + "ABCDEFGHIJKLMNOP"

    def run() -> SessionLogger:
        with SessionLogger(sid, nats_server.url, tmp_path) as session:
            session.log("user", f"Deploy with key {key} please.")
            session.log("assistant", "Deployed.")
        return session

    session = await asyncio.to_thread(run)
    assert session.sent is True and session.close() is True  # a second close does not re-emit
    found = await read_stream(bus, Subject.SESSIONS_NEW.value,
                              lambda e: isinstance(e, SessionsNew) and e.session_id == sid, idle=1.0)
    assert len(found) == 1
    assert [m.role for m in found[0].messages] == ["user", "assistant"]
    assert key not in found[0].messages[0].content and "<SECRET>" in found[0].messages[0].content


async def test_an_event_too_large_for_nats_is_set_aside_not_blocking(
    bus: Bus, nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    big = SessionsNew(cycle_id=uuid.uuid4().hex, session_id="huge",
                      messages=[{"role": "user", "content": "x" * 1_200_000}])
    small = commit(uuid.uuid4().hex)
    assert await asyncio.to_thread(emit, big, nats_url=nats_server.url, spool_dir=tmp_path) is False
    assert await asyncio.to_thread(emit, small, nats_url=nats_server.url, spool_dir=tmp_path) is True
    got = await stream_events(bus, Subject.COMMITS_NEW, {small.cycle_id}, 1)
    assert [e.event_id for e in got] == [small.event_id]
    assert pending(tmp_path) == []
    aside = [json.loads(line) for line in (tmp_path / TOO_LARGE).read_text().splitlines()]
    assert [a["event"]["event_id"] for a in aside] == [big.event_id]  # kept for audit
