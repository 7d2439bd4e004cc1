"""Every option of every `sis-sync` command says what it does in `--help`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from services.cli import build_parser
from services.cli.dev import COMMANDS, command_parser


def _parsers(name: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(f"{name} {sub_name}", sub)


def test_every_option_of_every_command_has_help_text() -> None:
    parsers = dict(_parsers("sis-sync", build_parser()))
    for command in COMMANDS:
        parsers.update(_parsers(f"sis-sync {command}", command_parser(command)))
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in parsers.items()
        if name.split()[-1] not in COMMANDS or parser.prefix_chars != "\0"
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and action.dest != "argv"
        and not (action.help or "").strip()
    ]
    assert len(parsers) > 10
    assert not missing, f"options without help: {missing}"
