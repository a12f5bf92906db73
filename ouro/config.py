"""One config file for the loop: `ouro.toml`, whose keys are the OURO_* settings.

    ouro --config my.toml up          # or OURO_CONFIG=my.toml; default: ./ouro.toml if present
    ouro init                         # writes a commented ouro.toml with every setting
    ouro config                       # every effective value and where it came from

Each section is one settings class (its env prefix): `[loop]` is OURO_*, `[trainer]` is
OURO_TRAINER_*, and so on; `trainer.max_steps = 8` is `OURO_TRAINER_MAX_STEPS=8`. The file is
applied to this process's environment before anything reads a setting, and only where the
variable is not set already: an env var always overrides the file. The services `ouro up` and
`ouro run` start inherit that environment; a service started on its own reads its env only.
Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import json
import os
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings

CONFIG_ENV = "OURO_CONFIG"
DEFAULT_FILE = "ouro.toml"
# Settings read outside the pydantic classes: the specialist file and the log level.
LOOP_EXTRAS = {"specialists": ("OURO_SPECIALISTS", "shared/specialists.yaml (shipped)",
                               "the specialist file: specialists, suites, thresholds, cadence"),
               "log_level": ("OURO_LOG_LEVEL", "INFO", "log level of the CLI and the services")}
APPLIED: dict[str, str] = {}  # env var -> value this process took from the file
SOURCE: list[Path] = []  # the file applied, if any


class ConfigError(ValueError):
    """The config file is missing, not TOML, or names a setting that does not exist."""


def sections() -> dict[str, type[BaseSettings]]:
    """Section name -> the settings class it sets (imported here: the CLI may know every service)."""
    from services.evaluator.settings import EvaluatorSettings
    from services.harvester.settings import HarvesterSettings
    from services.judge.settings import JudgeSettings
    from services.promoter.settings import PromoterSettings
    from services.router.settings import RouterSettings
    from services.trainer.settings import TrainerSettings
    from shared.settings import CommonSettings

    return {"loop": CommonSettings, "harvester": HarvesterSettings, "judge": JudgeSettings,
            "trainer": TrainerSettings, "evaluator": EvaluatorSettings, "promoter": PromoterSettings,
            "router": RouterSettings}


def env_name(cls: type[BaseSettings], field: str) -> str:
    return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def _is_path(cls: type[BaseSettings], field: str) -> bool:
    annotation = cls.model_fields[field].annotation
    return annotation is Path or Path in typing.get_args(annotation)


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):  # pydantic-settings parses complex env values as JSON
        return json.dumps(value, default=lambda v: v.model_dump(mode="json") if hasattr(v, "model_dump") else str(v))
    return str(value)


def config_path(flag: str | None) -> Path | None:
    """--config, else OURO_CONFIG, else ./ouro.toml when there is one, else no file."""
    named = flag or os.environ.get(CONFIG_ENV)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            how = "--config" if flag else CONFIG_ENV
            raise ConfigError(f"{how} {named} does not exist (`ouro init` writes a commented one)")
        return path
    default = Path(DEFAULT_FILE)
    return default if default.is_file() else None


def read_config(path: Path) -> dict[str, str]:
    """The file as env var -> value; ConfigError names the section or key that is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    known = sections()
    out: dict[str, str] = {}
    for section, values in data.items():
        if section not in known or not isinstance(values, dict):
            raise ConfigError(f"{path}: unknown section [{section}]; the sections are {', '.join(known)}")
        cls = known[section]
        for key, value in values.items():
            if section == "loop" and key in LOOP_EXTRAS:
                var = LOOP_EXTRAS[key][0]
                if key == "specialists":
                    value = str((path.parent / str(value)).resolve())
            elif key in cls.model_fields:
                var = env_name(cls, key)
                if _is_path(cls, key) and isinstance(value, str) and value:
                    value = str((path.parent / Path(value).expanduser()).resolve())
            else:
                names = sorted([*cls.model_fields, *(LOOP_EXTRAS if section == "loop" else ())])
                raise ConfigError(f"{path}: [{section}] has no setting {key!r}; it has {', '.join(names)}")
            out[var] = _env_value(value)
    return out


def apply_config(flag: str | None = None) -> Path | None:
    """Put the file's settings into os.environ where no env var is set; returns the file used."""
    for var, value in APPLIED.items():  # a second call in one process (tests): forget the first file
        if os.environ.get(var) == value:
            del os.environ[var]
    if SOURCE and os.environ.get(CONFIG_ENV) == str(SOURCE[0]):
        del os.environ[CONFIG_ENV]
    APPLIED.clear()
    SOURCE.clear()
    path = config_path(flag)
    if path is None:
        return None
    for var, value in read_config(path).items():
        if var not in os.environ:
            os.environ[var] = value
            APPLIED[var] = value
    os.environ.setdefault(CONFIG_ENV, str(path.resolve()))  # the services started from here read it too
    SOURCE.append(path.resolve())
    return path


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    env: str
    value: str
    source: str  # default | file | env
    help: str = ""


def effective() -> list[Setting]:
    """Every setting, its value now and where that value came from."""
    out = []
    for section, cls in sections().items():
        current = cls()
        for key, field in cls.model_fields.items():
            env = env_name(cls, key)
            source = "file" if env in APPLIED else "env" if env in os.environ else "default"
            value = getattr(current, key)
            if hasattr(value, "get_secret_value"):
                value = "**********" if value.get_secret_value() else ""
            if key == "model_cache" and value is None:
                from shared.models import model_cache_dir

                value = model_cache_dir()
            out.append(Setting(section, key, env, _env_value(value) if value is not None else "", source,
                               field.description or ""))
        if section == "loop":
            for key, (env, default, why) in LOOP_EXTRAS.items():
                source = "file" if env in APPLIED else "env" if env in os.environ else "default"
                out.append(Setting(section, key, env, os.environ.get(env, default), source, why))
    return out


def config_table(settings: list[Setting]) -> str:
    where = f"file: {SOURCE[0]}" if SOURCE else "no config file (--config, OURO_CONFIG or ./ouro.toml)"
    rows = [where, f"{'setting':<34} {'source':<8} {'env var':<36} value"]
    rows += [f"{s.section + '.' + s.key:<34} {s.source:<8} {s.env:<36} {s.value}" for s in settings]
    return "\n".join(rows)


def default_toml() -> str:
    """The commented file `ouro init` writes: every setting at its default, commented out."""
    lines = ["# ouro.toml: the loop's settings. Every key is an OURO_* env var (shown), which overrides",
             "# the file. Uncomment what you change; `ouro config` shows the effective values.",
             "# Per-specialist settings (suites, promotion thresholds, cadence, LoRA) live in the",
             "# specialist file: set [loop] specialists to your copy of shared/specialists.yaml.", ""]
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("OURO_")}
    try:  # the defaults, not this shell's values
        for section, cls in sections().items():
            lines.append(f"[{section}]")
            if section == "loop":
                for key, (env, default, why) in LOOP_EXTRAS.items():
                    lines.append(f"# {why} ({env}; default: {default})")
                    lines.append(f'# {key} = "shared/specialists.yaml"' if key == "specialists" else
                                 f'# {key} = "{default}"')
            current = cls()
            for key in cls.model_fields:
                value = getattr(current, key)
                if hasattr(value, "get_secret_value"):
                    value = ""
                lines.append(f"# {key} = {_toml_value(value)}    # {env_name(cls, key)}")
            lines.append("")
    finally:
        os.environ.update(saved)
    return "\n".join(lines)


def _toml_value(value: object) -> str:
    if value is None:
        return '"..."  (unset by default)'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return json.dumps([str(v) if isinstance(v, Path) else _plain(v) for v in value])
    return json.dumps(str(value))


def _plain(v: object) -> object:
    return v.model_dump(mode="json") if hasattr(v, "model_dump") else v
