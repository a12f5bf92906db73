"""Which specialist category each generator task lands in.

The mapping itself is data: each specialist's `tasks` and `hints` in the specialist file
(shared/specialists.yaml). This module names the tasks the generators produce, so that a file
mapping a task no generator makes fails at start instead of silently feeding nothing, and asks
the profile for the category. A task a specialist does not map teaches it nothing; the core
counts such drafts as `<generator>:not_for_<specialist>` instead of guessing.
"""

from __future__ import annotations

from shared.specialists import SpecialistConfigError, SpecialistSet, profile, specialists

# Every task a generator in services/harvester/generators/ yields (a new generator adds its tasks here).
TASKS: dict[str, str] = {
    "explain_function": "ast_code", "write_function": "ast_code", "explain_class": "ast_code",
    "module_importers": "ast_code", "module_dependencies": "ast_code", "function_callers": "ast_code",
    "diff_review": "git_diffs", "diff_edit": "git_diffs", "commit_message": "git_diffs",
    "intent": "sessions", "tool_call": "sessions", "session_turn": "sessions",
    "concise_rewrite": "conciseness",
    "tool_spec_call": "tool_specs",
    "explain_doc": "docs",
    "exec_trace": "exec_reasoning", "exec_test": "exec_reasoning",
    "affect": "affect",
    "self_description": "self_description",
    "fix_explain": "fix_reasoning",
    "plan_feature": "planning", "plan_session": "planning",
    "interrupt": "interrupts",
    "write_test": "repo_tests",
    "record_math": "record_math",
    "fix_mutant": "mutants", "review_mutant": "mutants",
}

# external: the configured category travels as the hint; it applies to every specialist that has it.
EXTERNAL = "external"


def check_tasks(loaded: SpecialistSet | None = None) -> None:
    """Raise SpecialistConfigError when a specialist maps a task that no generator produces."""
    loaded = loaded or specialists()
    for p in loaded.profiles.values():
        for key in [*p.tasks, *(k.split("/", 1)[0] for k in p.hints)]:
            if key not in TASKS:
                raise SpecialistConfigError(
                    f"{loaded.source}: specialist {p.name!r}, field 'tasks'/'hints': no generator produces task "
                    f"{key!r}; the tasks are {sorted(TASKS)}")


def category_for(task: str, specialist: str, hint: str | None = None) -> str | None:
    """The category a draft of `task` gets for `specialist`, or None when it does not apply."""
    prof = profile(specialist)
    if task == EXTERNAL:
        return hint if hint in prof.categories else None
    return prof.category_for(task, hint)
