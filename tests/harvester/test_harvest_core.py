from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.harvester.categories import TASKS, check_tasks
from services.harvester.core import HarvestError, HarvestPlan, UnknownTokenizerFamily, harvest
from shared.specialists import profile, specialists

from .conftest import RepoBuilder

SECRETS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "MIIEowIBAAKCAQEAx4Zk9Q0secretkeybody",
    "hunter2pass",
    "ops.lead@acme-corp.example.com",
]
LEAKY = f'''"""Talk to the billing API."""

AWS_KEY = "{SECRETS[0]}"
GITHUB = "{SECRETS[1]}"
PRIVATE = """-----BEGIN RSA PRIVATE KEY-----
{SECRETS[6]}
-----END RSA PRIVATE KEY-----"""


def charge(amount: int) -> dict:
    """Charge `amount` cents with the live Stripe key; contact {SECRETS[8]} on failure."""
    password = "{SECRETS[7]}"
    return {{"key": "{SECRETS[4]}", "amount": amount, "password": password}}
'''


@pytest.fixture
def leaky_sources(repo_builder: RepoBuilder, tmp_path: Path) -> tuple[Path, Path]:
    rb = repo_builder
    # the key block arrives with the change to `charge` (a new file alone gets no review), so the diffs show it
    block = LEAKY[LEAKY.index('PRIVATE = """'):LEAKY.index("\n\n\ndef charge")]
    rb.commit("Add billing client", {"billing.py": LEAKY.replace(SECRETS[3], "x").replace(block, "")})
    rb.commit(f"Fix charge: use the new Slack hook {SECRETS[2]}\n\nSigned-off-by: Ops <{SECRETS[8]}>",
              {"billing.py": LEAKY.replace("amount: int", "amount: int = 0") + f'\nOPENAI = "{SECRETS[3]}"\n'})
    sessions = tmp_path / "sessions.jsonl"
    rows = [{"messages": [
        {"role": "user", "content": f"Deploy with token {SECRETS[5]} and key {SECRETS[3]}, mail {SECRETS[8]}"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "start_cycle", "arguments": json.dumps({"specialist": "coder", "api_key": SECRETS[3],
                                                            "password": SECRETS[7]})}}]},
        {"role": "assistant", "content": f"Started the cycle using {SECRETS[1]}; password = {SECRETS[7]}."}]}]
    sessions.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return rb.root, sessions


@pytest.mark.parametrize("specialist", list(specialists().names))
def test_no_secret_reaches_any_example(leaky_sources: tuple[Path, Path], specialist: str) -> None:
    repo, sessions = leaky_sources
    result = harvest(HarvestPlan(specialist=specialist, repo=repo, sessions=sessions,
                                 weak_categories=profile(specialist).categories[:2]))
    assert result.examples
    dumped = "\n".join(e.model_dump_json() for e in result.examples)
    for secret in SECRETS:
        assert secret not in dumped and json.dumps(secret)[1:-1] not in dumped, secret
    assert "<SECRET>" in dumped
    assert result.scrubbed["private_key"] >= 1 and result.scrubbed["email"] >= 1


def test_categories_and_result_shape(small_repo: RepoBuilder) -> None:
    for spec in specialists().names:
        result = harvest(HarvestPlan(specialist=spec, repo=small_repo.root,
                                     sessions=Path(__file__).resolve().parents[2] / "examples" / "sessions"))
        cats = set(profile(spec).categories)
        assert {e.category for e in result.examples} <= cats
        assert all(e.specialist == spec for e in result.examples)
        assert sum(result.by_generator.values()) == len(result.examples)
        assert len({e.id for e in result.examples}) == len(result.examples)
        assert result.head_commit == small_repo.repo.head.commit.hexsha
        assert result.commit_classes == {"bugfix": 1, "feature": 1, "test": 1}
    coder = harvest(HarvestPlan(specialist="coder", repo=small_repo.root, fim_share=0))
    assert {"debugging", "instruction", "test_generation"} <= {e.category for e in coder.examples}


def test_category_table_matches_specialists() -> None:
    check_tasks()  # every task a specialist maps is one a generator produces
    for name in specialists().names:
        prof = profile(name)
        for task, cat in prof.tasks.items():
            assert task in TASKS and cat in prof.categories
        for key, cat in prof.hints.items():
            assert key.split("/")[0] in TASKS and (cat is None or cat in prof.categories)


def test_deterministic(small_repo: RepoBuilder) -> None:
    plan = HarvestPlan(specialist="orchestrator", repo=small_repo.root,
                       weak_categories=("architecture",))
    assert harvest(plan) == harvest(plan)


def test_answers_within_token_band(small_repo: RepoBuilder) -> None:
    from services.harvester.base import approx_tokens

    result = harvest(HarvestPlan(specialist="coder", repo=small_repo.root, fim_share=0))
    assert len(result.examples) >= 5  # an empty harvest would pass the band check below vacuously
    assert all(10 <= approx_tokens(e.response) <= 600 for e in result.examples)


def test_targeted_adds_variants_of_weak_categories(small_repo: RepoBuilder) -> None:
    base = harvest(HarvestPlan(specialist="coder", repo=small_repo.root, fim_share=0))
    more = harvest(HarvestPlan(specialist="coder", repo=small_repo.root, fim_share=0,
                               weak_categories=("debugging", "nonsense")))
    extra = [e for e in more.examples if e.generator == "targeted"]
    assert extra and {e.category for e in extra} == {"debugging"}
    assert more.by_category["debugging"] > base.by_category["debugging"]
    assert more.skipped["targeted:unknown_category:nonsense"] == 1
    originals = {e.response for e in base.examples if e.category == "debugging"}
    assert {e.response for e in extra} <= originals  # same real answers, asked differently


def test_conciseness_drills(tmp_path: Path) -> None:
    long = ("Sure! Basically, the judge works on data before training. It filters, deduplicates and "
            "decontaminates examples, then balances them into a dataset that the trainer reads. "
            "This is worth doing because bad data costs training time.\n\nThe evaluator, on the other hand, "
            "works on models after training. It scores the checkpoint and the champion on the same prompts, "
            "so the promoter compares like with like. I think that is really the key difference here.")
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps({"messages": [{"role": "user", "content": "Judge versus evaluator?"},
                                          {"role": "assistant", "content": long}]}) + "\n")
    result = harvest(HarvestPlan(specialist="orchestrator", sessions=f))
    drill = next(e for e in result.examples if e.generator == "conciseness")
    assert drill.category == "conciseness" and long in drill.prompt
    # padding and hedges go; what each service does stays, though it names nothing (it is the point)
    assert drill.response == ("The judge works on data before training. It filters, deduplicates and decontaminates "
                              "examples, then balances them into a dataset that the trainer reads. This is worth "
                              "doing because bad data costs training time.\nThe evaluator works on models after "
                              "training. It scores the checkpoint and the champion on the same prompts, so the "
                              "promoter compares like with like.")


def test_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(HarvestError, match="neither `repo` nor `sessions`"):
        harvest(HarvestPlan(specialist="coder"))
    with pytest.raises(HarvestError, match=f"{tmp_path} is not a git repository"):
        harvest(HarvestPlan(specialist="coder", repo=tmp_path))
    with pytest.raises(HarvestError, match="does not exist"):
        harvest(HarvestPlan(specialist="coder", sessions=tmp_path / "missing.jsonl"))
    with pytest.raises(HarvestError, match="fim_share"):
        harvest(HarvestPlan(specialist="coder", sessions=tmp_path, fim_share=2))


def test_fim_uses_the_tokenizers_tokens(small_repo: RepoBuilder, tmp_path: Path) -> None:
    tok = tmp_path / "tok"
    tok.mkdir()
    tokens = ["<|endoftext|>", "<fim_prefix>", "<fim_middle>", "<fim_suffix>"]
    (tok / "tokenizer.json").write_text(json.dumps({"added_tokens": [{"id": i, "content": t}
                                                                     for i, t in enumerate(tokens)]}))
    result = harvest(HarvestPlan(specialist="coder", repo=small_repo.root, fim_share=1.0,
                                 tokenizer_dir=tok))
    fim = [e for e in result.examples if e.format == "fim"]
    assert fim
    for e in fim:
        assert e.prompt.startswith("<fim_prefix>") and "<fim_suffix>" in e.prompt
        assert e.prompt.endswith("<fim_middle>") and e.response.strip()

    (tok / "tokenizer.json").write_text(json.dumps({"added_tokens": [{"id": 0, "content": "<|im_start|>"}]}))
    with pytest.raises(UnknownTokenizerFamily, match="no known fill-in-the-middle tokens"):
        harvest(HarvestPlan(specialist="coder", repo=small_repo.root, tokenizer_dir=tok))
