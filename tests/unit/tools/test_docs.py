"""The docs stay true: every ``calsync …`` command and ``make …`` target that README.md and
docs/*.md show in code exists, and every relative link (and its anchor) resolves."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from calsync_dev.cli import build_parser

ROOT = Path(__file__).resolve().parents[3]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES = (
    "deploy",
    "connect",
    "events",
    "operate",
    "erasure",
    "completeness",
    "performance",
    "cost",
    "develop",
    "layout",
)

FENCE = re.compile(r"^(```|~~~)")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# a command starts the code (a line of a block, a span) or follows a shell operator, maybe after
# `VAR=value` assignments; `.venv/bin/calsync` counts too. Prose in code ("so calsync cannot") does not.
_START = r"(?:^|[|;&(]|\$\()\s*(?:\w+=\S*\s+)*"
CALSYNC = re.compile(_START + r"(?:[\w.-]*/)*calsync[ \t]+(?P<rest>[^\n]*)")
MAKE = re.compile(_START + r"make[ \t]+(?P<rest>[^\n]*)")
# where one shell command ends: a comment, a pipe, `;` or `&&` (a table's `\|` is an alternative, not a pipe)
COMMAND_END = re.compile(r"\s#|(?<!\\)\|(?!\|)|;|&&|\$\(")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Shown:
    file: str
    line: int
    text: str


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _blocks(text: str) -> Iterator[tuple[int, str, bool]]:
    """Each line with its number and whether it is inside a fenced code block."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        yield number, line, fenced


def _code(path: Path) -> Iterator[Shown]:
    """Every piece of code a page shows: each line of a fenced block, each inline code span."""
    for number, line, fenced in _blocks(path.read_text()):
        if fenced:
            yield Shown(_rel(path), number, line)
        else:
            yield from (Shown(_rel(path), number, span) for span in CODE_SPAN.findall(line))


def _commands(pattern: re.Pattern[str], shown: Shown) -> Iterator[list[str]]:
    for found in pattern.finditer(shown.text):
        rest = COMMAND_END.split(found.group("rest"), maxsplit=1)[0]
        rest = re.sub(r"<[^<>]*>", "X", rest)  # a placeholder such as <signing key> is one word
        yield [token for token in rest.split() if token != "\\"]


def _shown(pattern: re.Pattern[str]) -> list[tuple[Shown, list[str]]]:
    return [(shown, tokens) for path in DOCS for shown in _code(path) for tokens in _commands(pattern, shown) if tokens]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """A parser's subcommands by name, aliases included."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:  # argparse keeps them here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def _positional_choices(parser: argparse.ArgumentParser) -> set[str] | None:
    """The choices of a parser's first positional argument, if it has any (``dlq redrive``)."""
    for action in parser._actions:
        if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
            return {str(choice) for choice in action.choices} if action.choices else None
    return None


def _alternatives(token: str) -> list[str]:
    """``oauth\\|pat`` and ``[list|redrive]`` name two choices."""
    return [part for part in re.split(r"\\?\|", token.strip("[]()")) if part]


def _options(tokens: list[str]) -> Iterator[str]:
    """``--since/--until``, ``[--follow]``, ``--at=T`` → the option names."""
    for token in tokens:
        for part in token.strip("[](),").split("/"):
            if part.startswith("-") and part != "-":
                yield part.split("=", 1)[0].rstrip(".,;:)]")


def calsync_problems(tokens: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """What is wrong with one ``calsync`` command line as shown (empty: it exists as written)."""
    problems: list[str] = []
    command, *rest = tokens
    if command.startswith("-"):
        return [f"no option {option}" for option in _options(tokens) if option not in parser._option_string_actions]
    commands = _subparsers(parser)
    if command not in commands:
        return [f"no subcommand {command!r} (there are: {', '.join(sorted(commands))})"]
    known = dict(commands[command]._option_string_actions)
    nested = _subparsers(commands[command])
    first = rest[0] if rest and not rest[0].startswith(("-", "[-")) else None
    if nested:
        if first is None:
            return problems
        for name in _alternatives(first):
            if name not in nested:
                problems.append(f"no subcommand {command} {name!r} (there are: {', '.join(sorted(nested))})")
            else:
                known.update(nested[name]._option_string_actions)
    elif first is not None and (choices := _positional_choices(commands[command])) is not None:
        problems += [
            f"{command}: {name!r} is not one of {sorted(choices)}"
            for name in _alternatives(first)
            if name not in choices
        ]
    problems += [f"{command}: no option {option}" for option in _options(rest) if option not in known]
    return problems


def make_targets(makefile: str) -> set[str]:
    targets: set[str] = set()
    for line in makefile.splitlines():
        rule = re.match(r"^(?P<names>[A-Za-z0-9_-][A-Za-z0-9_. -]*?)\s*:(?!=)", line)
        if rule:
            targets.update(rule.group("names").split())
    return targets


def slug(title: str) -> str:
    """The anchor GitHub gives a heading."""
    text = title.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    for _, line, fenced in _blocks(path.read_text()):
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group("title"))
            count = seen.get(base, 0)
            seen[base] = count + 1
            seen.setdefault(f"{base}-{count}" if count else base, 1)
    return set(seen)


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line, fenced in _blocks(path.read_text()):
        if not fenced:
            yield from ((number, m.group("target")) for m in LINK.finditer(CODE_SPAN.sub("CODE", line)))


def link_problem(path: Path, target: str) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not ours to check offline
        return None
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    if not linked.exists():
        return f"{target}: no such file"
    if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
        return f"{target}: no heading #{anchor} in {_rel(linked)}"
    return None


CALSYNC_SHOWN = _shown(CALSYNC)
MAKE_SHOWN = _shown(MAKE)


def test_the_docs_show_commands_and_targets() -> None:
    # Given the README and docs/ as a newcomer reads them
    # Then they show commands of both kinds (the checks below are not vacuous)
    assert len(CALSYNC_SHOWN) > 40
    assert len(MAKE_SHOWN) > 30
    assert {tokens[0] for _, tokens in CALSYNC_SHOWN} >= {"send", "bookings", "events", "connect", "erase", "reconcile"}


@pytest.mark.parametrize(
    ("shown", "tokens"), CALSYNC_SHOWN, ids=lambda x: f"{x.file}:{x.line}" if isinstance(x, Shown) else ""
)
def test_every_calsync_command_shown_exists(shown: Shown, tokens: list[str]) -> None:
    # Given a `calsync …` command a page shows
    # When the CLI's own parser is asked about it (aliases count: `backfill` may be one of `reconcile`)
    problems = calsync_problems(tokens, build_parser())
    # Then its subcommand, its sub-subcommand or choice, and every option it names exist
    assert problems == [], f"{shown.file}:{shown.line}: calsync {' '.join(tokens)}"


def test_a_command_that_does_not_exist_is_caught() -> None:
    # Given commands the CLI does not have, as a page might show them
    parser = build_parser()
    # Then each is reported, and real ones are not
    assert calsync_problems(["frobnicate", "--now"], parser) != []
    assert calsync_problems(["events", "explode"], parser) != []
    assert calsync_problems(["dlq", "purge"], parser) != []
    assert calsync_problems(["bookings", "--colour"], parser) != []
    assert calsync_problems(["connect", "oauth\\|saml", "--connection-id", "ID"], parser) != []
    assert calsync_problems(["connect", "oauth\\|pat", "--connection-id", "ID"], parser) == []
    assert calsync_problems(["events", "tail", "[--follow]", "[--json]"], parser) == []


def test_an_alias_counts_as_a_command() -> None:
    # Given a CLI where `backfill` is an alias of `reconcile`
    parser = argparse.ArgumentParser(prog="calsync")
    reconcile = parser.add_subparsers().add_parser("reconcile", aliases=["backfill"])
    reconcile.add_argument("--since")
    # Then a page showing either spelling is true
    assert calsync_problems(["backfill", "--since", "T"], parser) == []
    assert calsync_problems(["reconcile", "--since", "T"], parser) == []


@pytest.mark.parametrize(
    ("shown", "tokens"), MAKE_SHOWN, ids=lambda x: f"{x.file}:{x.line}" if isinstance(x, Shown) else ""
)
def test_every_make_target_shown_exists(shown: Shown, tokens: list[str]) -> None:
    # Given a `make …` command a page shows
    targets = make_targets((ROOT / "Makefile").read_text())
    named = [token for token in tokens if "=" not in token and not token.startswith("-")]
    # Then each target it names is in the Makefile
    assert [name for name in named if name not in targets] == [], f"{shown.file}:{shown.line}: make {' '.join(tokens)}"


def test_the_makefile_targets_are_read() -> None:
    targets = make_targets((ROOT / "Makefile").read_text())
    assert {"run", "test", "timetravel", "bench", "cost", "deploy"} <= targets
    assert "VENV" not in targets  # `VENV ?= .venv` is a variable, not a rule


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_every_relative_link_resolves(path: Path) -> None:
    # Given every link of a page
    # Then each relative one names a file that exists, and a heading of it when it names one
    assert [f"{number}: {problem}" for number, target in links(path) if (problem := link_problem(path, target))] == []


def test_a_broken_link_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n## The `calsync` command\n")
    assert link_problem(page, "page.md#the-calsync-command") is None
    assert link_problem(page, "#a-page") is None
    assert link_problem(page, "missing.md") is not None
    assert link_problem(page, "page.md#no-such-heading") is not None


def test_the_readme_is_the_front_door() -> None:
    # Given the README
    readme = (ROOT / "README.md").read_text()
    linked = {target for _, target in links(ROOT / "README.md")}
    # Then it stays short, and links every page of docs/ the rest moved to
    assert len(readme.splitlines()) <= 220
    for page in PAGES:
        assert (ROOT / "docs" / f"{page}.md").exists()
        assert f"docs/{page}.md" in linked
    # And it names the two commands
    assert "`make run`" in readme
    assert "`make test`" in readme
