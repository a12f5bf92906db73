"""repo_tests: the repository's own tests become "write this pytest test" examples whose prompt
shows everything the test needs (code under test, imports, helpers, fixtures) and nothing else."""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import harvest
from services.harvester.generators.repo_tests import RepoTests
from services.harvester.plan import HarvestPlan

from .conftest import RepoBuilder

CALC = '''"""Tiny bank."""


class Account:
    """A bank account holding a balance in cents."""

    def __init__(self, owner: str, balance: int = 0) -> None:
        self.owner = owner
        self.balance = balance

    def deposit(self, cents: int) -> int:
        """Add `cents` to the balance and return the new balance."""
        if cents <= 0:
            raise ValueError("deposit must be positive")
        self.balance += cents
        return self.balance

    def withdraw(self, cents: int) -> int:
        """Take `cents` out of the balance and return the new balance."""
        if cents <= 0:
            raise ValueError("withdrawal must be positive")
        if cents > self.balance:
            raise OverflowError("insufficient funds")
        # large withdrawals pay a flat fee
        fee = 0
        if cents > 1000:
            fee = 5
        self.balance -= cents
        self.balance -= fee
        return self.balance


def add(a: int, b: int) -> int:
    """Return a + b."""
    return a + b
'''

CONFTEST = '''import pytest

from pkg.calc import Account


@pytest.fixture
def funded():
    return Account("ann", 500)
'''

TESTS = '''import pytest

from pkg.calc import Account, add

LIMIT = 100


@pytest.mark.parametrize(("a", "b", "want"), [(1, 2, 3), (0, 0, 0)])
def test_add(a, b, want):
    assert add(a, b) == want


def test_limit():
    assert add(LIMIT, 1) == 101


def test_funded_deposit(funded):
    assert funded.deposit(100) == 600


def make_account():
    return Account("cy", 10)


def test_via_helper():
    assert make_account().balance == 10


def test_arithmetic_only():
    assert 1 + 1 == 2


def test_plugin_fixture(benchmark):
    assert add(1, 1) == 2


def test_long():
''' + "    assert add(1, 1) == 2\n" * 45 + '''

class TestAccount:
    @pytest.fixture
    def account(self):
        return Account("bob")

    def test_deposit(self, account):
        assert account.deposit(5) == 5
        with pytest.raises(ValueError):
            account.deposit(0)

    def test_overdraw(self, account):
        with pytest.raises(OverflowError):
            account.withdraw(1)
'''


def run(root: Path, since: str | None = None) -> tuple[dict[str, Draft], dict[str, int]]:
    ctx = Context(plan=HarvestPlan(specialist="coder", repo=root, since_commit=since), skips=Skips())
    drafts = list(RepoTests().run(ctx))
    by_name = {next(n.name for n in ast.parse(d.answer).body if isinstance(n, ast.FunctionDef)): d for d in drafts}
    return by_name, dict(ctx.skips.counts)


@pytest.fixture
def bank(repo_builder: RepoBuilder) -> RepoBuilder:
    repo_builder.commit("bank", {"pkg/__init__.py": "", "pkg/calc.py": CALC, "tests/conftest.py": CONFTEST,
                                 "tests/test_calc.py": TESTS})
    return repo_builder


def test_each_test_becomes_its_real_source_with_what_it_needs_in_the_prompt(bank: RepoBuilder) -> None:
    drafts, skips = run(bank.root)
    assert sorted(drafts) == ["test_add", "test_deposit", "test_funded_deposit", "test_limit", "test_overdraw",
                             "test_via_helper"]
    assert skips == {"repo_tests:no_project_call": 1, "repo_tests:fixture_not_found": 1,
                     "repo_tests:test_too_long": 1}

    add = drafts["test_add"]  # module-level and parametrized: the decorator is part of the answer
    assert add.answer == ('@pytest.mark.parametrize(("a", "b", "want"), [(1, 2, 3), (0, 0, 0)])\n'
                          "def test_add(a, b, want):\n    assert add(a, b) == want")
    assert "module-level test function" in add.prompt and "Parametrize it over `a`, `b`, `want`" in add.prompt
    assert 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n    return a + b' in add.prompt
    assert "from pkg.calc import add\n" in add.prompt and "import pytest" in add.prompt
    assert "from pkg.calc import Account" not in add.prompt  # only the imports the test reads

    assert "LIMIT = 100" in drafts["test_limit"].prompt  # a module constant the test reads is shown
    # a module helper the test calls is shown, and the project code it reaches through it
    assert 'def make_account():\n    return Account("cy", 10)' in drafts["test_via_helper"].prompt
    assert "class Account:" in drafts["test_via_helper"].prompt

    funded = drafts["test_funded_deposit"]  # a conftest fixture: its source, and `funded.deposit` resolved
    assert "# fixture from `tests/conftest.py`" in funded.prompt and 'return Account("ann", 500)' in funded.prompt
    assert "def deposit(self, cents: int) -> int:" in funded.prompt and "`Account.deposit`" in funded.prompt

    method = drafts["test_deposit"]  # a method: dedented, its class and its class fixture named
    assert method.answer.startswith("def test_deposit(self, account):\n    assert account.deposit(5) == 5")
    assert "method of the test class `TestAccount`" in method.prompt and "`self`" in method.prompt
    assert "# fixture from class `TestAccount` in `tests/test_calc.py`" in method.prompt
    assert 'def account(self):\n    return Account("bob")' in method.prompt
    assert 'raise ValueError("deposit must be positive")' in method.prompt  # a short method: shown whole

    # a method too long to show: signature, docstring, and the raise the test names (not the others)
    overdraw = drafts["test_overdraw"].prompt
    assert "def withdraw(self, cents: int) -> int:\n    \"\"\"Take `cents` out" in overdraw
    assert "# raises: raise OverflowError('insufficient funds')" in overdraw
    assert "withdrawal must be positive" not in overdraw and "self.balance -= fee" not in overdraw


def test_every_name_the_answer_reads_is_in_the_prompt_or_a_builtin(bank: RepoBuilder) -> None:
    drafts, _ = run(bank.root)
    for d in drafts.values():
        tree = ast.parse(d.answer)
        bound = {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)} | {
            n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound:
                assert n.id in dir(builtins) or re.search(rf"\b{n.id}\b", d.prompt), (n.id, d.answer)


def test_an_incremental_run_mines_only_tests_whose_file_or_code_changed(bank: RepoBuilder) -> None:
    first = bank.repo.head.commit.hexsha
    bank.commit("more tests", {"tests/test_more.py": "from pkg.calc import add\n\n\ndef test_more():\n"
                                                     "    assert add(2, 2) == 4\n"})
    drafts, _ = run(bank.root, since=first)
    assert sorted(drafts) == ["test_more"]


def test_harvest_files_them_under_the_coders_test_generation(bank: RepoBuilder) -> None:
    result = harvest(HarvestPlan(specialist="coder", repo=bank.root, docs=False), sources=(RepoTests(),))
    assert result.by_category == {"test_generation": 6} and result.by_generator == {"repo_tests": 6}
    other = harvest(HarvestPlan(specialist="orchestrator", repo=bank.root, docs=False), sources=(RepoTests(),))
    assert other.examples == [] and other.skipped["repo_tests:not_for_orchestrator"] == 6


ITSD = Path("/tmp/itsd")


@pytest.mark.skipif(not (ITSD / ".git").exists(), reason="the itsdangerous clone is not at /tmp/itsd")
def test_itsdangerous_human_tests_yield_at_least_30_examples() -> None:
    result = harvest(HarvestPlan(specialist="coder", repo=ITSD, docs=False), sources=(RepoTests(),))
    assert result.by_category.get("test_generation", 0) >= 30
    inherited = next(e for e in result.examples if "test_malformed_timestamp" in e.response)
    # a fixture inherited from a base test class in another module, and the subclass's override it requests
    assert "# fixture from class `TestSigner` in `tests/test_itsdangerous/test_signer.py`" in inherited.prompt
    # a function too long to show whole still shows its `raise` statements: the message the test checks
    assert "# raises: raise BadTimeSignature('Malformed timestamp', payload=value)" in inherited.prompt
    # a pinned value the scrubber would replace (a base64-like digest) would break the test: skipped
    assert result.skipped["repo_tests:scrubbed_literal"] == 1
    # (the core scrubs the literal key itself into a placeholder)
    assert textwrap.dedent('''\
        @pytest.fixture()
        def signer_factory(self):
            return partial(TimestampSigner, secret_key=''') in inherited.prompt
