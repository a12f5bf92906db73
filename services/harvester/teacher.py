"""A teacher model writes or improves answers for harvested prompts (optional, off by default).

A mined answer is often shallow: the commit message behind a label, a docstring restated. With
`OURO_HARVESTER_TEACHER_URL` set, an OpenAI-compatible endpoint (a stronger model on vLLM, or a
hosted API) is asked, for a bounded number of drafts per harvest, to write the answer the prompt
deserves, with the mined answer given as evidence. Each reply becomes a new draft:

- generator `teacher`, so the judge samples it with its weight (1.3 by default, JudgeConfig);
- `source` names the model and the draft it came from (`teacher:<model><-<generator>:<source>`),
  the rest of the provenance (commit, path, lines, session) is the original's: it retires with it;
- it passes the judge like any other example (filters, dedup, decontamination, unsupported facts).

Failures are counted (`teacher:error`, `teacher:empty`) and the harvest goes on; after a few
errors in a row the endpoint is taken as down for the rest of this harvest (`teacher:unavailable`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from services.harvester.base import Draft, Skips
from services.harvester.plan import TeacherConfig
from shared.chat_client import ChatError, RateLimit, complete
from shared.scrub import scrub

SYSTEM = (
    "You write model answers for training an assistant that works on a software project. Answer the "
    "user's last message as an expert would: concrete, complete, and short. Use only facts that the "
    "conversation shows. A reference answer mined from the project is given as evidence: keep what "
    "it gets right, leave out anything the conversation does not support, and never copy it if it "
    "only restates the question. Reply with the answer only."
)
GIVE_UP_AFTER = 3  # errors in a row: the endpoint is down, stop asking for this harvest


def _pick(drafts: list[Draft], config: TeacherConfig) -> list[Draft]:
    """Up to `budget` drafts, spread round-robin over tasks, so one prolific generator cannot use it all."""
    by_task: dict[str, list[Draft]] = defaultdict(list)
    for d in drafts:
        # a draft with an executed answer (`expected`) is not rewritten: nothing would check the rewrite
        if d.format == "chat" and d.generator != config.generator and d.expected is None \
                and (not config.tasks or d.task in config.tasks):
            by_task[d.task].append(d)
    queues = [by_task[t] for t in sorted(by_task)]
    picked: list[Draft] = []
    i = 0
    while len(picked) < config.budget and any(queues):
        q = queues[i % len(queues)]
        if q:
            picked.append(q.pop(0))
        i += 1
    return picked


def _request(d: Draft) -> list[dict[str, str]]:
    """The conversation up to the mined answer, that answer attached to the last user turn as evidence."""
    *head, (_, mined) = d.messages
    turns = [{"role": r, "content": c} for r, c in head if r != "system"]
    user = max(i for i, t in enumerate(turns) if t["role"] == "user")
    turns[user] = {"role": "user", "content": (
        f"{turns[user]['content']}\n\n---\nReference answer mined from the project (evidence, may be "
        f"shallow or wrong):\n{mined}")}
    # what leaves the machine is scrubbed like what is trained on (core scrubs drafts only later)
    return [{"role": "system", "content": SYSTEM}, *({**t, "content": scrub(t["content"])[0]} for t in turns)]


def teach(drafts: list[Draft], config: TeacherConfig, skips: Skips) -> list[Draft]:
    """Teacher drafts for up to `config.budget` of `drafts` (the originals stay as they are)."""
    out: list[Draft] = []
    limit = RateLimit(config.rate_per_s)
    failures = 0
    picked = [d for d in _pick(drafts, config) if d.messages and d.messages[-1][0] == "assistant"
              and any(r == "user" for r, _ in d.messages)]
    for n, d in enumerate(picked):
        if failures >= GIVE_UP_AFTER:
            skips.add(config.generator, "unavailable", len(picked) - n)
            break
        limit.wait()
        try:
            text = complete(config.endpoint, _request(d), max_tokens=config.max_tokens).strip()
        except ChatError:
            failures += 1
            skips.add(config.generator, "error")
            continue
        failures = 0
        if not text:
            skips.add(config.generator, "empty")
            continue
        messages = (*d.messages[:-1], ("assistant", text))
        out.append(replace(d, generator=config.generator, messages=messages, thought=None, expected=None,
                           source=f"teacher:{config.endpoint.model}<-{d.generator}:{d.source}"))
    return out
