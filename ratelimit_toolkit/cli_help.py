"""Korean `--help` for the `ratelimit-toolkit` command.

The subcommand modules define their options with English help. After the
whole parser tree is built, `localize_parser` replaces every description,
group title and option help that has Korean text in `cli_help_ko`. It also
installs a formatter that prints argparse's "usage:" prefix in Korean and
wraps Hangul by its width on screen. Text without a Korean entry stays
English, so an option added later still shows, with its English help.

The walk reads argparse's private `_actions`, `_action_groups`,
`_SubParsersAction` and `_choices_actions`, which argparse has kept unchanged
from Python 3.10 to 3.13. Nothing global changes: argparse's own gettext
catalog stays as it is for other programs in the same process.
"""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ratelimit_toolkit import messages
from ratelimit_toolkit.cli_help_ko import ARGPARSE_TEXTS, GROUP_TITLES, HELP_TEXTS, USAGE_PREFIX

#: Parser attributes translated besides the actions' help, with their table keys.
PARSER_TEXT_KEYS = ("description", "epilog")


@dataclass(frozen=True)
class HelpEntry:
    """One help text in a parser tree and the table key that translates it.

    Attributes:
        command: "" for the top-level parser, else the subcommand names joined by spaces.
        key: the action's `dest`, or "description" or "epilog" for the parser's own text.
        target: the parser or action that contains the text.
        attribute: "help", "description" or "epilog".
    """

    command: str
    key: str
    target: object
    attribute: str

    @property
    def text(self) -> str | None:
        """The text as it is now: English until `localize_parser` replaced it."""
        value = getattr(self.target, self.attribute)
        return value if isinstance(value, str) else None


class KoreanHelpFormatter(argparse.HelpFormatter):
    """argparse's default layout with a Korean usage prefix and wrapping by width on screen.

    Hangul syllables take two terminal columns. `HelpFormatter` wraps by
    character count, so its Korean lines would run up to twice the width.
    """

    def _format_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None,
    ) -> str:
        if prefix is not None:
            return super()._format_usage(usage, actions, groups, prefix)

        # argparse indents wrapped usage lines by len(prefix), so format with an
        # ASCII placeholder as wide on screen as the Korean prefix, then swap it in.
        placeholder = " " * display_width(USAGE_PREFIX)
        text = super()._format_usage(usage, actions, groups, placeholder)
        return USAGE_PREFIX + text[len(placeholder) :]

    def _split_lines(self, text: str, width: int) -> list[str]:
        return wrap_by_display_width(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines = wrap_by_display_width(text, width - len(indent))
        return "\n".join(indent + line for line in lines)


def help_language(argv: Sequence[str]) -> messages.Language:
    """Pick the language of `--help`: the last `--lang` in `argv`, else the environment, else English.

    `--lang` counts before or after the subcommand, as `--lang ko` or
    `--lang=ko`. An abbreviation such as `--lan ko` is not recognised here, so
    it leaves the help in the environment's language.
    """
    requested = _requested_language(argv)
    if requested in messages.LANGUAGES:
        return requested  # type: ignore[return-value]

    try:
        return messages.current_language()
    except ValueError:
        # An unsupported RATELIMIT_TOOLKIT_LANG must not hide the help. The first
        # message printed later raises the ValueError that names the value.
        return "en"


def localize_parser(parser: argparse.ArgumentParser, lang: str) -> None:
    """Translate the help of `parser` and all its subparsers into `lang`, in place.

    English ("en") leaves the parser unchanged. A text without a Korean entry
    stays English, and help hidden with `argparse.SUPPRESS` stays hidden.

    NOTE: argparse's error messages, such as "error: the following arguments
    are required", stay English after a Korean usage line.
    """
    if lang != "ko":
        return

    for entry in iter_help_entries(parser):
        _translate_entry(entry)
    for _, current in iter_parsers(parser):
        _translate_headings(current)


def iter_parsers(parser: argparse.ArgumentParser, command: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Yield `(command, parser)` for `parser` and every subparser below it, each parser once."""
    yield command, parser

    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        seen: set[int] = set()
        for name, subparser in action.choices.items():
            # Aliases map to the same parser after its primary name.
            if id(subparser) not in seen:
                seen.add(id(subparser))
                yield from iter_parsers(subparser, f"{command} {name}".strip())


def iter_help_entries(parser: argparse.ArgumentParser) -> Iterator[HelpEntry]:
    """Yield every description, epilog and action help in the parser tree, including subcommand summaries."""
    for command, current in iter_parsers(parser):
        for key in PARSER_TEXT_KEYS:
            yield HelpEntry(command, key, current, key)
        for action in _actions_with_help(current):
            yield HelpEntry(command, action.dest, action, "help")


def display_width(text: str) -> int:
    """Count the terminal columns `text` takes: two for wide (East Asian) characters, one for the rest."""
    return sum(2 if unicodedata.east_asian_width(character) in ("W", "F") else 1 for character in text)


def wrap_by_display_width(text: str, width: int) -> list[str]:
    """Split `text` at spaces into lines of at most `width` columns.

    A single word wider than `width`, such as a long URL, keeps a line of its own.
    """
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and display_width(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _requested_language(argv: Sequence[str]) -> str | None:
    requested = None
    for index, token in enumerate(argv):
        if token == "--":
            break
        if token == "--lang" and index + 1 < len(argv):
            requested = argv[index + 1]
        elif token.startswith("--lang="):
            requested = token.removeprefix("--lang=")
    return requested


def _actions_with_help(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    """Yield the parser's actions and, for a subcommand action, the line of each subcommand."""
    for action in parser._actions:
        yield action
        if isinstance(action, argparse._SubParsersAction):
            yield from action._choices_actions


def _translate_entry(entry: HelpEntry) -> None:
    english = entry.text
    if english is None or english == argparse.SUPPRESS:
        return

    korean = HELP_TEXTS.get((entry.command, entry.key)) or ARGPARSE_TEXTS.get(english)
    if korean is not None:
        setattr(entry.target, entry.attribute, korean)


def _translate_headings(parser: argparse.ArgumentParser) -> None:
    for group in parser._action_groups:
        if group.title is not None:
            group.title = GROUP_TITLES.get(group.title, group.title)

    # A parser with its own formatter, such as RawDescriptionHelpFormatter,
    # keeps it, because its layout matters more than the Korean usage prefix.
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = KoreanHelpFormatter
