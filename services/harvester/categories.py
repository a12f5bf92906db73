"""Which specialist category each generator task lands in.

One table, so a new task is one row. `None` means the task teaches nothing that specialist is
scored on; the core counts such drafts as `<generator>:not_for_<specialist>` instead of guessing.
Every value here must be a category of that specialist in shared/specialists.py (a test checks).
"""

from __future__ import annotations

from shared.events import Specialist

O, C, R = Specialist.ORCHESTRATOR, Specialist.CODER, Specialist.REASONER

TASKS: dict[str, dict[Specialist, str | None]] = {
    # ast_code
    "explain_function": {O: "architecture", C: "instruction", R: "reasoning"},
    "write_function": {O: None, C: "instruction", R: None},
    "explain_class": {O: "architecture", C: "instruction", R: "reasoning"},
    "module_importers": {O: "architecture", C: None, R: "reasoning"},
    "module_dependencies": {O: "architecture", C: None, R: "reasoning"},
    # git_diffs
    "diff_review": {O: "code_review", C: "review", R: "reasoning"},
    "diff_edit": {O: None, C: "editing", R: None},
    "commit_message": {O: "code_review", C: "review", R: "non_reasoning"},
    # sessions
    "intent": {O: "intent_classification", C: None, R: None},
    "tool_call": {O: "tool_use", C: None, R: None},
    "session_turn": {O: "orchestration", C: "instruction", R: "reasoning"},
    # conciseness
    "concise_rewrite": {O: "conciseness", C: None, R: "non_reasoning"},
}

# A hint overrides the table for one specialist: a bugfix diff is debugging practice for the
# coder, a test commit is test generation; a session turn the loop routed to the reasoner is
# reasoning, one that was answered directly is non-reasoning for it.
HINTS: dict[tuple[str, str, Specialist], str | None] = {
    ("diff_review", "bugfix", C): "debugging",
    ("diff_edit", "bugfix", C): "debugging",
    ("diff_edit", "test", C): "test_generation",
    ("diff_review", "test", C): "test_generation",
    ("session_turn", "coder", O): "orchestration",
    ("session_turn", "orchestrator", C): None,
    ("session_turn", "reasoner", C): None,
    ("session_turn", "coder", R): None,
    ("session_turn", "orchestrator", R): "non_reasoning",
    ("session_turn", "reasoner", O): "reasoning",
}


def category_for(task: str, specialist: Specialist, hint: str | None = None) -> str | None:
    """The category a draft of `task` gets for `specialist`, or None when it does not apply."""
    if hint is not None and (task, hint, specialist) in HINTS:
        return HINTS[(task, hint, specialist)]
    row = TASKS.get(task)
    return None if row is None else row.get(specialist)
