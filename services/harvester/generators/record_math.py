"""Worked arithmetic on the loop's own numbers (the reasoner's `math`): "how many trainable
parameters does your adapter add?", "how many harvests run in a week?", "how many more math
prompts must a candidate get right to clear the promotion bar?".

Every number comes from `plan.record` (a `LoopRecord`: the specialist file, the base model's
config.json and, in a running loop, the registry and the corpus), or is a stated premise of the
question ("a dataset of 1200 examples"). The prompt lists every number the answer uses; the answer
works it out one equation per step, each value computed here in Python, and ends with
`Answer: <value>`, which is also the draft's `expected` (STaR verifies sampled answers against
it). A question whose facts the record lacks is not asked (`record_math:not_in_record`), so the
record never turns into a guessed number. The steps also go out as a think draft.
"""


from collections.abc import Callable, Iterator

from services.harvester.base import Context, Draft
from services.harvester.generators.record_math_loop import LOOP_PROBLEMS
from services.harvester.generators.record_math_model import MODEL_PROBLEMS, Problem
from services.harvester.generators.self_description import own_record, record_version
from services.harvester.plan import LoopRecord

NAME = "record_math"
TASK = "record_math"

# One question of each shape per record: the base model and its adapter, then the loop around it.
PROBLEMS: tuple[Callable[[LoopRecord], Problem | None], ...] = (*MODEL_PROBLEMS, *LOOP_PROBLEMS)


def problems(r: LoopRecord) -> list[Problem]:
    return [p for fn in PROBLEMS if (p := fn(r)) is not None]


def prompt_text(r: LoopRecord, p: Problem) -> str:
    given = "\n".join(f"- {g}" for g in p.given)
    return (f"From the {r.specialist} specialist's record in the Ouroboros loop:\n{given}\n\n{p.question} "
            "Work it out step by step and end with `Answer: <value>`.")


def steps_text(p: Problem) -> str:
    return "\n".join(f"{i}. {s}" for i, s in enumerate(p.steps, 1))


class RecordMath:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        if (r := own_record(ctx, NAME)) is None:
            return
        version = record_version(r)
        for fn in PROBLEMS:
            p = fn(r)
            if p is None:
                ctx.skips.add(NAME, "not_in_record")
                continue
            where = dict(generator=NAME, task=TASK, source=f"loop-record:{r.specialist}@{version}#{p.shape}")
            prompt, final = prompt_text(r, p), f"{p.so}\n\nAnswer: {p.answer_text()}"
            yield Draft(messages=(("user", prompt), ("assistant", f"{steps_text(p)}\n\n{final}")),
                        expected=p.answer_text(), **where)
            yield Draft(format="think", thought=steps_text(p), messages=(("user", prompt), ("assistant", final)),
                        **where)
