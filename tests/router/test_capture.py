"""Served conversations go back into the loop: consented, scrubbed, labelled with the route used."""

from __future__ import annotations

import uuid

from services.router.capture import SseText, consented, session_event
from shared.events import SessionsNew
from tests.busutil import read_stream
from tests.router.conftest import MAX_TOKENS, Stack

SECRET = "sk-proj-" + "A1b2C3d4" * 4


def test_consent_is_the_deployments_and_each_requests() -> None:
    assert consented(True, {})
    assert not consented(False, {})
    for value in ("off", "OFF", "no", "false", "0"):
        assert not consented(True, {"x-ouro-capture": value})


def test_the_session_is_scrubbed_at_capture_and_carries_the_route() -> None:
    event = session_event([{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": f"My key is {SECRET}; write to ann@example.com"}],
                          "Done.", specialist="coder", effort=3, session_id="s-1")
    assert event is not None and (event.specialist, event.effort, event.session_id) == ("coder", 3, "s-1")
    text = " ".join(m.content for m in event.messages)
    assert SECRET not in text and "ann@example.com" not in text and "<SECRET>" in text
    assert [m.role for m in event.messages] == ["system", "user", "assistant"]
    # nothing to learn from: no user turn, or no answer
    assert session_event([{"role": "system", "content": "x"}], "y", specialist=None, effort=1) is None
    assert session_event([{"role": "user", "content": "x"}], "", specialist=None, effort=1) is None


def test_the_answer_of_a_stream_is_read_as_it_passes() -> None:
    sse = SseText()
    for chunk in (b'data: {"choices": [{"delta": {"role": "assistant"}}]}\n\ndata: {"choi',
                  b'ces": [{"delta": {"content": "Hel"}}]}\n\ndata: {"choices": [{"delta": {"content": "lo"}}]}\n\n',
                  b"data: [DONE]\n\n"):
        sse.feed(chunk)
    assert sse.text == "Hello"


async def _sessions(stack: Stack, session: str) -> list[SessionsNew]:
    return [e for e in await read_stream(stack.bus, "ouro.sessions.new.v1",
                                         lambda e: isinstance(e, SessionsNew) and e.session_id == session)]


async def test_a_served_conversation_is_emitted_as_sessions_new_unless_the_request_opts_out(stack: Stack) -> None:
    body = {"model": "auto", "max_tokens": MAX_TOKENS,
            "messages": [{"role": "user", "content": f"Refactor this function, my token is {SECRET}:\n"
                                                     "```python\ndef f(): pass\n```"}]}
    kept, opted_out, streamed = (uuid.uuid4().hex for _ in range(3))
    _, rev = await stack.champion("coder", seed=1)  # the tiny base model answers this with nothing
    await stack.until(lambda: stack.serves(f"coder-v{rev}"))
    r = await stack.http.post("/v1/chat/completions", json=body, headers={"X-Ouro-Session": kept})
    answer = r.json()["choices"][0]["message"]["content"]
    assert answer.strip() and r.headers["x-ouro-adapter"] == f"coder-v{rev}"
    await stack.http.post("/v1/chat/completions", json=body,
                          headers={"X-Ouro-Session": opted_out, "X-Ouro-Capture": "off"})
    async with stack.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True},
                                 headers={"X-Ouro-Session": streamed}) as s:
        await s.aread()

    await stack.until(lambda: _sessions(stack, kept))
    (event,) = await _sessions(stack, kept)
    assert (event.specialist, event.effort) == ("coder", int(r.headers["x-ouro-effort"]))
    assert SECRET not in event.model_dump_json()
    assert event.messages[-1].content == answer
    await stack.until(lambda: _sessions(stack, streamed))
    (event,) = await _sessions(stack, streamed)
    assert event.messages[-1].content == answer  # the same greedy answer, read off the stream
    assert await _sessions(stack, opted_out) == []
