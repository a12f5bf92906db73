"""Chat message helpers shared by what reads OpenAI-style messages (session logs, the router)."""

from __future__ import annotations

from typing import Any


def content_text(content: Any) -> str:
    """Text of an OpenAI/agent `content` field: a string, or a list of parts of which the text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""
