from __future__ import annotations

import json

import pytest

from services.judge.filters.noise import NoiseFilter
from services.judge.filters.repetition import RepetitionFilter, bigram_repeat_ratio
from services.judge.filters.secrets import SecretsFilter
from services.judge.filters.validity import ValidityFilter
from tests.judge.conftest import ANSWER, make


def test_bigram_ratio_definition() -> None:
    assert bigram_repeat_ratio("a b a b".split()) == pytest.approx(1 / 3)
    assert bigram_repeat_ratio(["one"]) == 0.0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (ANSWER, None),
        ("yes it works " * 20, "repetition:bigram"),
        (" ".join(f"release notes {w}" for w in "alpha beta gamma delta epsilon zeta eta theta".split()),
         "repetition:top_2gram"),
        ("The parser failed. " + "the call to parse_config raised an error " * 2 + ANSWER, "repetition:top_4gram"),
    ],
)
def test_repetition(text: str, reason: str | None) -> None:
    assert RepetitionFilter(top_ngram_share={2: 0.2, 3: 0.18, 4: 0.16}).filter(make(text)).reason == reason


def test_repetition_without_gopher_keeps_short_repeat() -> None:
    text = "The parser failed. " + "the call to parse_config raised an error " * 2 + ANSWER
    assert RepetitionFilter().filter(make(text)).keep


def test_noise_strips_ansi_and_harness_blocks() -> None:
    dirty = "\x1b[32mDone.\x1b[0m " + ANSWER + "\n<task-notification>agent 3 finished</task-notification>"
    verdict = NoiseFilter().filter(make(dirty))
    assert verdict.keep and verdict.example is not None
    assert verdict.example.response == "Done. " + ANSWER


@pytest.mark.parametrize(
    "dump",
    [
        "<task-notification>" + "status: running step 4 of 9, waiting for workers " * 5 + "</task-notification>ok",
        "\n".join(f"[{'=' * i}>{' ' * (20 - i)}] {i * 5}%" for i in range(20)) + "\nok",
    ],
)
def test_noise_drops_dumps(dump: str) -> None:
    assert NoiseFilter().filter(make(dump)).reason == "noise"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("key AKIAIOSFODNN7EXAMPLE here", "secret:aws"),
        ("token ghp_" + "a" * 36, "secret:github"),
        ("xoxb-1234567890-abcdefghij", "secret:slack"),
        ("OPENAI_API_KEY=sk-proj-" + "A1b2C3d4" * 4, "secret:openai"),
        ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "secret:stripe"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE...", "secret:private_key"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "secret:jwt"),
        (ANSWER, None),
    ],
)
def test_secrets(text: str, kind: str | None) -> None:
    assert SecretsFilter().filter(make(text)).reason == kind


CALL = json.dumps({"name": "search", "arguments": {"query": "nats"}})


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (f"<tool_call>{CALL}</tool_call>", None),
        (CALL, None),
        (json.dumps({"name": "search", "arguments": '{"query": "x"}'}), None),
        ('<tool_call>{"name": "search", "arguments": {</tool_call>', "validity:tool_call_json"),
        ('<tool_call>{"arguments": {}}</tool_call>', "validity:tool_call_fields"),
        ("I would search for it.", "validity:no_tool_call"),
    ],
)
def test_tool_calls(response: str, reason: str | None) -> None:
    assert ValidityFilter().filter(make(response, category="tool_use")).reason == reason


@pytest.mark.parametrize(
    ("response", "fmt", "reason"),
    [
        ("<think>add them</think>42", "think", None),
        ("<think>add them 42", "think", "validity:think_unbalanced"),
        ("</think>42<think>", "chat", "validity:think_unbalanced"),
        ("42", "think", "validity:think_missing"),
        # every family's tags from shared/think.py, not only R1's
        ("<|channel>thought\nadd them<channel|>42", "think", None),
        ("[THINK]add them[/THINK]42", "think", None),
        ("[THINK]add them 42", "think", "validity:think_unbalanced"),
        ("x <fim_middle> y", "chat", "validity:stray_fim_token"),
    ],
)
def test_think_and_stray_fim(response: str, fmt: str, reason: str | None) -> None:
    assert ValidityFilter().filter(make(response, format=fmt)).reason == reason


@pytest.mark.parametrize(
    ("prompt", "response", "reason"),
    [
        ("<fim_prefix>def add(a, b):\n<fim_suffix>\n<fim_middle>", "    return a + b", None),
        ("<|fim_prefix|>a<|fim_suffix|>c<|fim_middle|>", "b", None),
        ("<fim_prefix>def add(a, b):\n<fim_middle>", "    return a + b", "validity:fim_malformed"),
        ("<fim_prefix>a<fim_suffix>c<fim_middle>", "b<fim_middle>", "validity:fim_malformed"),
    ],
)
def test_fim(prompt: str, response: str, reason: str | None) -> None:
    example = make(response, prompt=prompt, category="editing", specialist="coder", format="fim")
    assert ValidityFilter().filter(example).reason == reason
