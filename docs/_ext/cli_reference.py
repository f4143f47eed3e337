"""``.. cli-reference::``: the ``sk-pixels`` reference, generated from its parser.

The directive calls :func:`sk_pixels.cli.build_parser` and writes, for the main
command and each subcommand, a section with the usage line, the description and
a definition list of the arguments (their help text with ``%(default)s``
expanded, and their defaults). Nothing is copied by hand, so the page
always matches ``sk-pixels COMMAND --help``.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from docutils.parsers.rst import Directive


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps no public list of subparsers
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _arguments(parser: argparse.ArgumentParser) -> nodes.definition_list:
    """Definition list of the parser's arguments (help and subparsers aside).

    The help texts are plain text, not reST: they are written for a terminal.
    """
    formatter = parser._get_formatter()
    items = nodes.definition_list()
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help is argparse.SUPPRESS:
            continue
        if action.option_strings:
            metavar = formatter._format_args(action, action.dest.upper())
            names = ", ".join(
                f"{opt} {metavar}" if action.nargs != 0 else opt
                for opt in action.option_strings
            )
        else:
            names = formatter._format_args(action, action.dest)
        text = formatter._expand_help(action) if action.help else ""
        text = text.rstrip(".") + "." if text else ""
        extra = []
        if (
            action.option_strings
            and action.nargs != 0
            and action.default not in (None, argparse.SUPPRESS)
            and "default" not in text
        ):
            extra.append(f"default: {action.default}")
        if action.required and action.option_strings:
            extra.append("required")
        if extra:
            text += " (" + "; ".join(extra) + ")"
        term = nodes.term("", "", nodes.literal(names, names))
        definition = nodes.definition("", nodes.paragraph(text, text))
        items += nodes.definition_list_item("", term, definition)
    return items


def _section(document, title: str, parser: argparse.ArgumentParser):
    section = nodes.section(
        ids=[nodes.make_id(title)], names=[nodes.fully_normalize_name(title)]
    )
    section += nodes.title(text=title)
    usage = parser.format_usage().removeprefix("usage: ").strip()
    section += nodes.literal_block(usage, usage, language="text")
    if parser.description:
        section += nodes.paragraph(text=parser.description)
    arguments = _arguments(parser)
    if arguments.children:
        section += arguments
    document.note_implicit_target(section)
    return section


class CliReference(Directive):
    """Render ``sk_pixels.cli.build_parser()`` as one section per command."""

    has_content = False

    def run(self):
        os.environ["COLUMNS"] = "88"  # stable usage lines whatever the terminal
        from sk_pixels.cli import build_parser

        parser = build_parser()
        document = self.state.document
        out = [_section(document, parser.prog, parser)]
        for name, sub in _subcommands(parser).items():
            out.append(_section(document, f"{parser.prog} {name}", sub))
        return out


def setup(app):
    app.add_directive("cli-reference", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
