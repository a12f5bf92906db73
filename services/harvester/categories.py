"""Which specialist category each generator task lands in.

One table, so a new task is one row. `None` means the task teaches nothing that specialist is
scored on; the core counts such drafts as `<generator>:not_for_<specialist>` instead of guessing.
Every value here must be a category of that specialist in shared/specialists.py (a test checks).
"""

from __future__ import annotations

from shared.events import Specialist
from shared.specialists import profile

ORC, COD, REA = Specialist.ORCHESTRATOR, Specialist.CODER, Specialist.REASONER

TASKS: dict[str, dict[Specialist, str | None]] = {
    # ast_code
    "explain_function": {ORC: "architecture", COD: "instruction", REA: "reasoning"},
    "write_function": {ORC: None, COD: "instruction", REA: None},
    "explain_class": {ORC: "architecture", COD: "instruction", REA: "reasoning"},
    "module_importers": {ORC: "architecture", COD: None, REA: "reasoning"},
    "module_dependencies": {ORC: "architecture", COD: None, REA: "reasoning"},
    "function_callers": {ORC: "architecture", COD: None, REA: "reasoning"},
    # git_diffs
    "diff_review": {ORC: "code_review", COD: "review", REA: "reasoning"},
    "diff_edit": {ORC: None, COD: "editing", REA: None},
    "commit_message": {ORC: "code_review", COD: "review", REA: "non_reasoning"},
    # sessions
    "intent": {ORC: "intent_classification", COD: None, REA: None},
    "tool_call": {ORC: "tool_use", COD: None, REA: None},
    "session_turn": {ORC: "orchestration", COD: "instruction", REA: "reasoning"},
    # conciseness
    "concise_rewrite": {ORC: "conciseness", COD: None, REA: "non_reasoning"},
    # tool_specs
    "tool_spec_call": {ORC: "tool_use", COD: None, REA: None},
    # docs: a direct explanation, no chain of thought: non-reasoning practice for the reasoner
    "explain_doc": {ORC: "architecture", COD: "instruction", REA: "non_reasoning"},
}

# external: the configured category travels as the hint; it applies to every specialist that has it.
EXTERNAL = "external"


# A hint overrides the table for one specialist: a bugfix diff is debugging practice for the
# coder, a test commit is test generation; a session turn the loop routed to the reasoner is
# reasoning, one that was answered directly is non-reasoning for it.
HINTS: dict[tuple[str, str, Specialist], str | None] = {
    ("diff_review", "bugfix", COD): "debugging",
    ("diff_edit", "bugfix", COD): "debugging",
    ("diff_edit", "test", COD): "test_generation",
    ("diff_review", "test", COD): "test_generation",
    ("session_turn", "coder", ORC): "orchestration",
    ("session_turn", "orchestrator", COD): None,
    ("session_turn", "reasoner", COD): None,
    ("session_turn", "coder", REA): None,
    ("session_turn", "orchestrator", REA): "non_reasoning",
    ("session_turn", "reasoner", ORC): "reasoning",
}


def category_for(task: str, specialist: Specialist, hint: str | None = None) -> str | None:
    """The category a draft of `task` gets for `specialist`, or None when it does not apply."""
    if task == EXTERNAL:
        return hint if hint in profile(specialist).categories else None
    if hint is not None and (task, hint, specialist) in HINTS:
        return HINTS[(task, hint, specialist)]
    row = TASKS.get(task)
    return None if row is None else row.get(specialist)
