"""Every `ouro ... --help` says each option's default (or that it is required) and the env var
behind it; the README's CLI block names every command."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ouro.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def parsers(parser: argparse.ArgumentParser, path: str = "ouro") -> list[tuple[str, argparse.ArgumentParser]]:
    out = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += parsers(sub, f"{path} {name}")
    return out


def test_every_option_says_its_default_and_env_var() -> None:
    missing = []
    for path, parser in parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            text = formatter._expand_help(action)
            if "default" not in text and "(required)" not in text:
                missing.append(f"{path} {action.option_strings[0]}: {text!r}")
            if action.dest in ("nats_url", "base_model", "config", "max_steps") and "OURO_" not in text:
                missing.append(f"{path} {action.option_strings[0]} names no env var: {text!r}")
    assert not missing, "\n".join(missing)


def test_help_renders_for_every_command() -> None:
    for path, parser in parsers(build_parser()):
        text = parser.format_help()
        assert text.startswith("usage: " + path.split()[0]), path


def test_the_readme_cli_block_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The CLI", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"^ouro (\w+)", block, flags=re.M))
    commands = {path.split()[1] for path, _ in parsers(build_parser()) if len(path.split()) == 2}
    assert commands <= listed, sorted(commands - listed)
