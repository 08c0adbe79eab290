"""Command line: `semsearch serve`, `eval`, `ingest`, `search`, `restore`, `count`, `delete`
and `copy`, one module each."""

import argparse
from typing import Protocol

from app.cli import copy, count, delete, evaluate, ingest, restore, search, serve


class Command(Protocol):
    """What each command's module holds: its arguments, and the command itself."""

    def add_parser(self, commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
        """Add the command's subparser, with its flags and help."""
        ...

    def run(self, args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        """Do the command; its exit status."""
        ...


COMMANDS: dict[str, Command] = {
    "serve": serve,
    "eval": evaluate,
    "ingest": ingest,
    "search": search,
    "restore": restore,
    "count": count,
    "delete": delete,
    "copy": copy,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semsearch", description="Self-hosted semantic search.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command named in `argv` (default: the process's arguments); its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return COMMANDS[args.command].run(args, parser)
