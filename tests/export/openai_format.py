"""A validator for OpenAI chat fine-tuning JSONL, written from OpenAI's documentation.

Two layers, both strict:
- the format checks of OpenAI's cookbook "Data preparation and analysis for chat model
  fine-tuning" (each line a dict with a non-empty `messages` list, known keys and roles, string
  content, at least one assistant message), extended to tool calls as the fine-tuning guide
  describes them ("Fine-tuning with tools": `tool_calls` on the assistant turn, `tool_call_id`
  on the tool turn, `tools` at the top level);
- pydantic models of the message shapes of the chat completions API reference (an assistant
  tool call is `{"id", "type": "function", "function": {"name", "arguments": "<JSON string>"}}`),
  which reject any key the API does not know.

`errors(line)` returns the list of problems of one line (empty: valid).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FunctionCall(_Strict):
    name: str = Field(min_length=1)
    arguments: str  # a JSON object, as a string

    @model_validator(mode="after")
    def _arguments_are_a_json_object(self) -> FunctionCall:
        if not isinstance(json.loads(self.arguments), dict):
            raise ValueError("function.arguments must encode a JSON object")
        return self


class ToolCall(_Strict):
    id: str = Field(min_length=1)
    type: Literal["function"]
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system"]
    content: str
    name: str | None = None


class UserMessage(_Strict):
    role: Literal["user"]
    content: str
    name: str | None = None


class AssistantMessage(_Strict):
    role: Literal["assistant"]
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None
    weight: Literal[0, 1] | None = None

    @model_validator(mode="after")
    def _says_or_calls(self) -> AssistantMessage:
        if not self.content and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: str
    tool_call_id: str = Field(min_length=1)


Message = Annotated[SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")]


class FunctionDef(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Strict):
    type: Literal["function"]
    function: FunctionDef


class Line(_Strict):
    messages: list[Message] = Field(min_length=1)
    tools: list[Tool] | None = None
    parallel_tool_calls: bool | None = None


_LINE = TypeAdapter(Line)


def cookbook_errors(ex: Any) -> list[str]:
    """The cookbook's format checks, with `tool` and tool calls as the fine-tuning guide allows them."""
    if not isinstance(ex, dict):
        return ["data_type"]
    messages = ex.get("messages")
    if not messages:
        return ["missing_messages_list"]
    found = []
    for m in messages:
        if "role" not in m or ("content" not in m and "tool_calls" not in m):
            found.append("message_missing_key")
        if any(k not in ("role", "content", "name", "tool_calls", "tool_call_id", "weight") for k in m):
            found.append("message_unrecognized_key")
        if m.get("role") not in ("system", "user", "assistant", "tool"):
            found.append("unrecognized_role")
        content, calls = m.get("content"), m.get("tool_calls")
        if (not content and not calls) or (content is not None and not isinstance(content, str)):
            found.append("missing_content")
    if not any(m.get("role") == "assistant" for m in messages):
        found.append("example_missing_assistant_message")
    return found


def errors(line: str) -> list[str]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        return [f"not JSON: {err}"]
    found = cookbook_errors(obj)
    try:
        parsed = _LINE.validate_python(obj)
    except ValidationError as err:
        return [*found, f"schema: {err}"]
    calls: set[str] = set()
    names = {t.function.name for t in parsed.tools or []}
    for m in parsed.messages:
        if isinstance(m, AssistantMessage):
            for c in m.tool_calls or []:
                calls.add(c.id)
                if parsed.tools is not None and c.function.name not in names:
                    found.append(f"tool {c.function.name!r} called but not in tools")
        if isinstance(m, ToolMessage) and m.tool_call_id not in calls:
            found.append(f"tool message answers no earlier call ({m.tool_call_id})")
    return found
