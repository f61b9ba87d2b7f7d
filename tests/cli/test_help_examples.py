"""Every example in a command's --help parses as written: its options exist, with valid values,
and nothing required is missing (the command itself is not run)."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.main import get_command

from genomekit.cli import app


def _leaves(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _leaves(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


COMMANDS = dict(_leaves(get_command(app)))


def _examples(cmd) -> list[str]:
    """The ``genomekit ...`` command lines of a help text (continuation lines joined)."""
    text = (cmd.help or "").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        match = re.match(r"(?:Example: )?(genomekit [a-z].*)$", line.strip())
        if match:
            found.append(match.group(1))
    return found


def test_every_command_has_an_example():
    missing = [" ".join(path) for path, cmd in COMMANDS.items() if not _examples(cmd)]
    assert not missing, missing


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) for p in COMMANDS])
def test_help_examples_parse(path):
    cmd = COMMANDS[path]
    for example in _examples(cmd):
        words = shlex.split(example)[1:]
        assert words[: len(path)] == list(path), example
        context = cmd.make_context(" ".join(("genomekit", *path)), words[len(path) :])  # raises on a bad line
        assert context.params is not None
