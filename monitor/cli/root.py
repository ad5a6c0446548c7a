"""The root command and its groups; the commands themselves are in the ``*_cmds`` modules."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click

from monitor.cli.base import JSON_OPTION, State, global_options


def _version() -> str:
    # importlib.metadata costs ~25 ms to import: only `--version` pays it
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("monitor")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"monitor {_version()}")
        ctx.exit()


# Each command and the module of monitor.cli that declares it (with its subcommands),
# imported when the command runs or when `monitor --help` lists them all: a command
# loads its own module, not all nine (~25 ms of its start). In the order `monitor --help`
# lists them: the work first, then reading, then operating.
MODULES = {
    "demo": "work_cmds", "ingest": "work_cmds", "run": "work_cmds", "poll": "work_cmds",
    "sources": "sources_cmds", "stories": "data_cmds", "facts": "data_cmds",
    "alerts": "data_cmds", "digest": "digest_cmds", "channels": "channels_cmds",
    "deliveries": "deliveries_cmds", "rules": "rules_cmds", "serve": "web_cmds",
    "health": "ops_cmds", "db": "ops_cmds",
}  # fmt: skip
ORDER = tuple(MODULES)


class Group(click.Group):
    """A group that lists its commands in the order they were added; the root lists ORDER
    and loads a command's module when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = list(self.commands)
        if self.name == "root":
            names = [*ORDER, *(n for n in names if n not in MODULES)]
        return names

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if self.name == "root" and cmd_name not in self.commands and cmd_name in MODULES:
            import_module(f"monitor.cli.{MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Settings come from MONITOR_* variables and an optional .env file (README lists "
    "them). Global options work before or after the command.\n\n"
    "Examples:\n\n\b\n  monitor demo\n  monitor ingest article.txt\n"
    "  monitor stories list --json\n  monitor --db ./monitor.db facts --entity alibaba",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@global_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With a listing command: one JSON array on stdout.",
)
@click.pass_context
def root(ctx: click.Context, as_json: bool) -> None:
    """News monitoring and alerting for market analysts.

    Polls feeds and pages, folds copies and AI rewrites into stories, extracts the facts
    analysts track, evaluates the rules in rules/ and sends digests.
    """
    st = ctx.ensure_object(State)
    st.json = st.json or as_json


def group(
    name: str,
    help_: str,
    *,
    example: str,
    default: str | None = None,
    default_when: str | None = None,
) -> click.Group:
    """A command group; called without a subcommand it runs ``default`` (what the
    command did before it had subcommands), taking that command's options, or only when
    the flag ``default_when`` is given (else it shows its help)."""

    @click.pass_context
    def callback(ctx: click.Context, /, **kwargs: Any) -> None:
        if ctx.invoked_subcommand is not None:
            return
        if default is None or (default_when and not kwargs.get(default_when)):
            given = [
                p.opts[0] for p in ctx.command.params
                if p.name in kwargs
                and ctx.get_parameter_source(p.name) is click.core.ParameterSource.COMMANDLINE
            ]  # fmt: skip
            if given:  # options without a command were ignored, and the help printed
                raise click.UsageError(
                    f"{', '.join(given)} without a command: give one of "
                    f"{', '.join(sorted(g.commands))}",
                    ctx,
                )
            click.echo(ctx.get_help())
            ctx.exit(0)
        ctx.invoke(g.commands[default], **kwargs)

    g = click.group(
        name,
        cls=Group,
        help=help_,
        epilog=f"Example:\n\n\b\n  {example}",
        invoke_without_command=True,
    )(global_options(callback))
    root.add_command(g)
    return g


def with_defaults_of(g: click.Group, command_name: str) -> None:
    """Give the group the parameters of its default command, so that the old form
    (`monitor stories --json`) keeps working."""
    cmd = g.commands[command_name]
    names = {p.name for p in g.params}
    g.params.extend(p for p in cmd.params if p.name not in names)


__all__ = ["JSON_OPTION", "Group", "group", "root", "with_defaults_of"]
