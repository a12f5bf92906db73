"""Specialists are data: one entry each in a YAML file (shared/specialists.yaml by default, or the
file named by `OURO_SPECIALISTS`), validated when it is loaded.

Each specialist is a separate LoRA adapter on the one shared base model. Its entry holds the
categories the harvester labels examples with (and their target mix, which the judge balances
on), which generator task feeds which category, its training settings, its promotion bar, its
cadence and its suite. Events carry a specialist's name and are checked against the loaded set,
so a specialist the loop does not know is refused at the bus, not halfway through a cycle.

    from shared.specialists import profile, specialists
    profile("coder").categories        # ('instruction', 'editing', ...)
    specialists().names                # ('orchestrator', 'coder', 'reasoner')
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.cron import Cron
from shared.suites import SuiteError, suite_path

DEFAULT_FILE = Path(__file__).parent / "specialists.yaml"
ENV_VAR = "OURO_SPECIALISTS"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")  # it becomes a NATS key token and a directory name
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SpecialistConfigError(ValueError):
    """The specialist file is wrong; the message names the file, the entry and the field."""


def _seconds(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as '30m', '12h', '7d'")
    return float(match.group(1)) * _UNITS[match.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Training(_Strict):
    epochs: float = Field(2.0, gt=0)
    lora_r: int = Field(32, gt=0)
    lora_alpha: int = Field(64, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    # champion: the next candidate continues training the current champion's adapter on the corpus
    # snapshot; base: a fresh adapter on the base model each time (the learning benchmark compares them)
    start_from: Literal["champion", "base"] = "champion"


class Promotion(_Strict):
    """The promoter's bar. `gate: absolute` promotes at overall >= `min_overall`; `gate: relative`
    at overall >= the base model's overall + `min_over_base`, with the paired interval of
    candidate - base above 0 (`min_overall` still applies as a floor)."""

    gate: Literal["absolute", "relative"] = "absolute"
    min_overall: float = Field(0.70, ge=0, le=1)
    min_over_base: float = Field(0.05, ge=0, le=1)
    min_category: float = Field(0.30, ge=0, le=1)
    must_beat_champion: bool = True


class Tokens(_Strict):
    min: int = Field(10, ge=0)
    max: int = Field(800, gt=0)


class Cadence(_Strict):
    """When to harvest and when to train. Schedules are five-field cron in UTC (shared/cron.py)."""

    harvest: str = "0 */8 * * *"  # re-harvest the last repo and sessions this specialist mined
    train: str = "0 3 * * 0"  # Sunday 03:00: the weekly training, if anything new came in
    # A commit or session harvest trains at once when this many kept examples are new since the
    # last training: ~25 optimizer steps of new data at batch 4, enough to move an adapter.
    min_new_examples: int = Field(100, ge=1)
    session_horizon: float = 90 * 86400.0  # session examples retire after this long ("90d")

    @field_validator("harvest", "train")
    @classmethod
    def _cron(cls, v: str) -> str:
        Cron.parse(v)  # raises CronError (a ValueError) naming the field that is wrong
        return v

    @field_validator("session_horizon", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return _seconds(v)


class Routing(_Strict):
    """Which requests the router sends to this specialist when a client asks for model `auto`:
    an estimated effort (1-10) in `effort` and, unless `code` is "any", that code decision."""

    effort: tuple[int, int] = (1, 10)
    code: bool | Literal["any"] = "any"

    @field_validator("effort")
    @classmethod
    def _band(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 10:
            raise ValueError(f"an effort band is [low, high] with 1 <= low <= high <= 10, got {list(v)}")
        return v


# The seed rule (effort 1-6 → orchestrator, code → coder, 7+ → reasoner): what an entry of one of
# these names routes by when it has no `routing` of its own. Any other name is only served by name.
SEED_ROUTING = {
    "orchestrator": Routing(effort=(1, 6)), "coder": Routing(code=True), "reasoner": Routing(effort=(7, 10)),
}


class Profile(_Strict):
    """One specialist's entry, as loaded. `suite` is resolved to the suite's directory."""

    name: str
    suite: str
    suite_dir: Path
    categories: tuple[str, ...]
    mix: dict[str, float] = Field(default_factory=dict)  # the categories with an explicit share
    tasks: dict[str, str] = Field(default_factory=dict)
    hints: dict[str, str | None] = Field(default_factory=dict)  # "task/hint" -> category | None
    training: Training = Training()
    promotion: Promotion = Promotion()
    tokens: Tokens = Tokens()
    cadence: Cadence = Cadence()
    routing: Routing | None = None  # None: never chosen for `auto`, only asked for by name

    # The flat names the services read.
    @property
    def epochs(self) -> float:
        return self.training.epochs

    @property
    def lora_r(self) -> int:
        return self.training.lora_r

    @property
    def lora_alpha(self) -> int:
        return self.training.lora_alpha

    @property
    def learning_rate(self) -> float:
        return self.training.learning_rate

    @property
    def min_overall(self) -> float:
        return self.promotion.min_overall

    @property
    def min_category(self) -> float:
        return self.promotion.min_category

    @property
    def gate(self) -> str:
        return self.promotion.gate

    @property
    def min_over_base(self) -> float:
        return self.promotion.min_over_base

    @property
    def must_beat_champion(self) -> bool:
        return self.promotion.must_beat_champion

    @property
    def min_tokens(self) -> int:
        return self.tokens.min

    @property
    def max_tokens(self) -> int:
        return self.tokens.max

    def category_for(self, task: str, hint: str | None = None) -> str | None:
        """The category a draft of `task` (refined by `hint`) feeds, or None: not for this specialist."""
        if hint is not None and f"{task}/{hint}" in self.hints:
            return self.hints[f"{task}/{hint}"]
        return self.tasks.get(task)


class _Entry(_Strict):
    """An entry as written in the file."""

    suite: str
    categories: dict[str, float | None] = Field(min_length=1)
    tasks: dict[str, str] = Field(default_factory=dict)
    hints: dict[str, str | None] = Field(default_factory=dict)
    training: Training = Training()
    promotion: Promotion = Promotion()
    tokens: Tokens = Tokens()
    cadence: Cadence = Cadence()
    routing: Routing | None = None


class _File(_Strict):
    specialists: dict[str, _Entry] = Field(min_length=1)


class SpecialistSet:
    def __init__(self, source: Path, profiles: dict[str, Profile]) -> None:
        self.source = source
        self.profiles = profiles

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.profiles)

    def __getitem__(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise SpecialistConfigError(
                f"unknown specialist {name!r}: the specialists loaded from {self.source} are {list(self.profiles)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.profiles

    def all_categories(self) -> set[str]:
        return {c for p in self.profiles.values() for c in p.categories}


def _check_entry(source: Path, name: str, entry: _Entry) -> Profile:
    def fail(field: str, what: str) -> SpecialistConfigError:
        return SpecialistConfigError(f"{source}: specialist {name!r}, field {field!r}: {what}")

    if not _NAME.match(name):
        raise fail("name", "must be lower case letters, digits, '_' or '-' (it names keys and directories)")
    categories = tuple(entry.categories)
    for task, category in entry.tasks.items():
        if category not in categories:
            raise fail(f"tasks.{task}", f"category {category!r} is not one of its categories {list(categories)}")
    for key, category in entry.hints.items():
        if key.count("/") != 1:
            raise fail(f"hints.{key}", "a hint key is 'task/hint', e.g. 'diff_review/bugfix'")
        if category is not None and category not in categories:
            raise fail(f"hints.{key}", f"category {category!r} is not one of its categories {list(categories)}")
    mix = {c: s for c, s in entry.categories.items() if s is not None}
    for category, share in mix.items():
        if not 0.0 <= share <= 1.0:
            raise fail(f"categories.{category}", f"a target share is within [0, 1], got {share}")
    if sum(mix.values()) > 1.0 + 1e-9:
        raise fail("categories", f"the target shares sum to {sum(mix.values()):.3f}; they must sum to at most 1")
    if entry.tokens.min >= entry.tokens.max:
        raise fail("tokens", f"min ({entry.tokens.min}) must be below max ({entry.tokens.max})")
    try:
        directory = suite_path(entry.suite, source.parent)
    except SuiteError as err:
        raise fail("suite", str(err)) from None
    if not directory.is_dir() or not any(directory.glob("*.jsonl")):
        raise fail("suite", f"{directory} is not a directory of <category>.jsonl files")
    return Profile(name=name, suite=entry.suite, suite_dir=directory.resolve(), categories=categories, mix=mix,
                   tasks=entry.tasks, hints=entry.hints, training=entry.training, promotion=entry.promotion,
                   tokens=entry.tokens, cadence=entry.cadence, routing=entry.routing or SEED_ROUTING.get(name))


def load_specialists(path: Path | str) -> SpecialistSet:
    """Read and validate a specialist file; raises SpecialistConfigError naming what is wrong."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecialistConfigError(f"specialist file {source} does not exist (set {ENV_VAR} to a YAML file)") from None
    except yaml.YAMLError as err:
        raise SpecialistConfigError(f"{source} is not valid YAML: {err}") from None
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecialistConfigError(f"{source}: {where}: {first['msg']} ({err.error_count()} error(s))") from None
    return SpecialistSet(source, {n: _check_entry(source, n, e) for n, e in parsed.specialists.items()})


_lock = threading.Lock()
_loaded: dict[Path, SpecialistSet] = {}
_by_setting: dict[str, SpecialistSet] = {}  # OURO_SPECIALISTS as written -> its loaded set


def configured_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FILE).resolve()


def specialists() -> SpecialistSet:
    """The specialist set named by OURO_SPECIALISTS (default: the shipped file), loaded once.

    Called for every draft a harvest categorises and every event validated, so the fast path is
    one dict lookup by the setting's raw value: no path resolution, no lock."""
    key = os.environ.get(ENV_VAR) or ""
    loaded = _by_setting.get(key)
    if loaded is not None:
        return loaded
    path = configured_path()
    with _lock:
        if path not in _loaded:
            _loaded[path] = load_specialists(path)
        _by_setting[key] = _loaded[path]
        return _loaded[path]


def reset() -> None:
    """Forget loaded files (tests that point OURO_SPECIALISTS at a file they wrote)."""
    with _lock:
        _loaded.clear()
        _by_setting.clear()


def profile(specialist: str) -> Profile:
    return specialists()[str(specialist)]


def _known(name: str) -> str:
    if name not in specialists():
        raise ValueError(f"unknown specialist {name!r}: the loaded set ({configured_path()}) is "
                         f"{list(specialists().names)}")
    return name


# The type of every `specialist` field on the bus and in the registry: a name from the loaded set.
SpecialistName = Annotated[str, AfterValidator(_known)]
