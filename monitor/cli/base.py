"""What every command shares: the global options, the settings and database they give,
JSON output, and date options.

Global options (``--db``, ``--rules``, ``--sources``, ``--channels``, ``-v``,
``--log-format``, ``--json``) are accepted before or after the command: each command and
group carries them too, and they all write to one :class:`State`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from monitor.errors import Problem
    from monitor.notify.channels import Channel
    from monitor.pipeline import Pipeline
    from monitor.rules.loader import RuleSet
    from monitor.settings import Settings

log = logging.getLogger("monitor")

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclasses.dataclass
class State:
    db: str | None = None
    rules: Path | None = None
    sources: Path | None = None
    channels: Path | None = None
    verbose: bool = False
    json: bool = False
    log_format: str | None = None
    _settings: Settings | None = None
    _engine: Engine | None = None
    _started: bool = False
    _channels: dict[bool, tuple[Channel, ...]] = dataclasses.field(default_factory=dict)
    env: dict[str, str] | None = None  # the demo's own variables instead of the process's

    # ------------------------------------------------------------------ settings

    def start(self) -> None:
        """Logging and the environment check, once the options are known."""
        if self._started:
            return
        self._started = True
        from monitor import settings as settings_mod
        from monitor.cli import logs

        # provisional until the settings are read: a bad setting is reported through it
        logs.configure(level="INFO", fmt=self.log_format or "text", verbose=self.verbose)
        s = self.settings()
        logs.configure(level=s.log_level, fmt=self.log_format or s.log_format, verbose=self.verbose)
        for given, meant in settings_mod.misspelt_variables():
            log.warning("%s is not a setting; did you mean %s?", given, meant)

    def settings(self) -> Settings:
        if self._settings is None:
            from monitor import settings as settings_mod

            s = settings_mod.load()
            update: dict[str, Any] = {}
            if self.db:
                update["database_url"] = database_url(self.db)
            elif s.database_url:
                update["database_url"] = database_url(s.database_url)
            if self.rules:
                update["rules"] = s.rules.model_copy(update={"dir": self.rules})
            if self.sources:
                update["sources_file"] = self.sources
            if self.channels and "channels_file" in type(s).model_fields:
                update["channels_file"] = self.channels
            self._settings = s.model_copy(update=update)
        return self._settings

    def database_shown(self) -> str | None:
        """The database in use, as printed (its password masked); None before the
        settings are read."""
        if self._settings is None:
            return None
        return shown_database(self._settings.db_url)

    def use(self, settings: Settings) -> None:
        """Replace the settings (the demo points them at its own database and server)."""
        self._settings, self._engine = settings, None

    # ------------------------------------------------------------------ database

    def engine(self) -> Engine:
        """The database at the newest schema: every command upgrades, idempotently."""
        if self._engine is None:
            engine = self._engine = self.raw_engine()
            ctx = click.get_current_context(silent=True)
            if ctx is not None:  # its connections close with the command (main() in a test)
                ctx.find_root().call_on_close(engine.dispose)
            upgrade_with_progress(engine)
        return self._engine

    def read_engine(self) -> Engine:
        """A read-only engine on the database (upgraded first, as ``engine``): its
        transactions take no write lock, so a long read leaves the daemon's writers be."""
        from monitor.store.db import make_read_engine

        self.engine()
        s = self.settings()
        engine = make_read_engine(
            s.db_url, busy_timeout_ms=s.database.busy_timeout_ms, cache_mb=s.database.cache_mb
        )
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.find_root().call_on_close(engine.dispose)
        return engine

    def raw_engine(self) -> Engine:
        from monitor.store.db import make_engine

        s = self.settings()
        db = s.database
        engine = make_engine(
            s.db_url,
            busy_timeout_ms=db.busy_timeout_ms,
            echo=db.echo,
            cache_mb=db.cache_mb,
            mmap_mb=db.mmap_mb,
        )
        return engine

    # --------------------------------------------------------------------- rules

    def rules_dir(self) -> Path:
        """The rules directory; the rules shipped with monitor when none is set and
        ./rules does not exist (said on stderr)."""
        s = self.settings()
        chosen = self.rules is not None or "dir" in s.rules.model_fields_set
        if chosen or s.rules.dir.exists():
            return s.rules.dir
        if s.rules.dir.is_symlink():  # ./rules is there, but leads nowhere
            from monitor.errors import ConfigError

            raise ConfigError(
                f"{s.rules.dir.absolute()}: a link to {os.readlink(s.rules.dir)}, which does"
                " not exist (copy the folder it points to, or remove the link)"
            )
        from monitor.bundled import RULES_DIR

        log.warning(
            "no %s/ here: using the rules shipped with monitor (%s); set MONITOR_RULES__DIR"
            " or pass --rules DIR to use your own",
            s.rules.dir,
            RULES_DIR,
        )
        return RULES_DIR

    def ruleset(self, *, strict: bool) -> RuleSet:
        """The rule set; with ``strict`` a missing or broken rules directory is an error
        (extracting without the analysts' vocabulary would store untyped figures)."""
        from monitor.errors import RuleFileError
        from monitor.rules.loader import load_rules

        path = self.rules_dir()
        ruleset = load_rules(path, channels=self.channel_names())
        if strict and ruleset.problems:
            raise RuleFileError(ruleset.problems)
        for problem in ruleset.problems:
            log.error("%s", problem)
        return ruleset

    # ------------------------------------------------------------------ channels

    def channels_file(self) -> Path | None:
        """The channels file in effect: the one given (which must exist), else
        ./channels.yaml when there is one, else none (nothing is sent)."""
        s = self.settings()
        chosen = self.channels is not None or "channels_file" in s.model_fields_set
        if chosen or s.channels_file.exists():
            return s.channels_file
        return None

    def load_channels(self, *, unset_ok: bool = False) -> tuple[Channel, ...]:
        """The channels; with ``unset_ok`` a URL variable that is not set is no error (for
        previews and checks, which send nothing)."""
        if unset_ok not in self._channels:
            from monitor import settings as settings_mod
            from monitor.errors import ConfigError
            from monitor.notify.channels import load_channels

            path = self.channels_file()
            if path is None:
                found: tuple[Channel, ...] = ()
            elif not path.is_file():
                raise ConfigError(f"{path}: no such channels file")
            else:
                env = self.env if self.env is not None else settings_mod.environment()
                found = load_channels(path, env, unset_ok=unset_ok)
            self._channels[unset_ok] = found
        return self._channels[unset_ok]

    def reload_channels(self) -> tuple[Channel, ...]:
        """The channels file read again (the daemon on SIGHUP)."""
        self._channels.pop(False, None)
        return self.load_channels()

    def channel_names(self) -> frozenset[str] | None:
        """The names ``notify:`` may use; None when no channels file is in effect."""
        if self.channels_file() is None:
            return None
        from monitor.notify.channels import LOG_CHANNEL

        return frozenset(c.name for c in self.load_channels(unset_ok=True)) | {LOG_CHANNEL}

    def pipeline(self, *, strict_rules: bool = True, sending: bool = False) -> Pipeline:
        """The application; with ``sending`` every channel must be able to send (its URL
        variables set)."""
        from monitor.pipeline import Pipeline

        return Pipeline(
            self.settings(),
            self.engine(),
            self.ruleset(strict=strict_rules),
            channels=self.load_channels(unset_ok=not sending),
        )


def upgrade_with_progress(engine: Engine) -> str | None:
    """Migrate with a progress bar (or lines) when there is something to migrate: a data
    migration of a large database takes minutes."""
    from monitor.cli.progress import Progress
    from monitor.store.db import upgrade

    bar: list[Progress] = []

    def step(done: int, total: int, revision: str | None) -> None:
        if done == 0:
            if revision is not None:  # a new database is created, not upgraded: no bar
                bar.append(Progress("database upgrade", total=total, unit="migrations"))
                bar[0].__enter__()
        elif bar:
            bar[0].advance(note=f"at {revision}")

    try:
        revision = upgrade(engine, on_step=step)
    finally:
        if bar:
            bar[0].__exit__(None, None, None)
    if bar and bar[0].done:
        echo(f"database upgraded to {revision}: {bar[0].done} migration(s) applied", err=True)
    elif bar:  # it waited for another process's upgrade, which applied them all
        echo(f"database upgraded to {revision} by another process meanwhile", err=True)
    return revision


class OutputClosed(Exception):
    """stdout was closed before all of the output was written (``| head``)."""


def database_url(value: str) -> str:
    """A URL as given, or a plain file path taken as an SQLite file."""
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


DATABASE_NOTE = "database: "  # how an exception carries the database it came from


def shown_database(url: str) -> str | None:
    """A database URL as printed: as given, but with its password masked (None when it
    does not parse: its own error says so)."""
    from sqlalchemy.exc import ArgumentError

    from monitor.store.db import shown_url

    try:
        return shown_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        return None


def state() -> State:
    return click.get_current_context().ensure_object(State)


# ----------------------------------------------------------------------- options


def _setter(attr: str, convert: Callable[[Any], Any] = lambda v: v) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value not in (None, False, ()):
            setattr(ctx.ensure_object(State), attr, convert(value))

    return callback


GLOBAL_OPTIONS = [
    click.option(
        "--db",
        metavar="URL",
        expose_value=False,
        callback=_setter("db"),
        help="Database URL, or a path to an SQLite file (overrides MONITOR_DATABASE_URL).",
    ),
    click.option(
        "--rules",
        metavar="DIR",
        expose_value=False,
        callback=_setter("rules", Path),
        help="Rules directory (overrides MONITOR_RULES__DIR).",
    ),
    click.option(
        "--sources",
        metavar="FILE",
        expose_value=False,
        callback=_setter("sources", Path),
        help="Sources file (overrides MONITOR_SOURCES_FILE).",
    ),
    click.option(
        "--channels",
        metavar="FILE",
        expose_value=False,
        callback=_setter("channels", Path),
        help="Channels file (overrides MONITOR_CHANNELS_FILE).",
    ),
    click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_setter("verbose"),
        help="Debug logging on stderr (and a traceback for an internal error).",
    ),
    click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        expose_value=False,
        callback=_setter("log_format"),
        help="Log lines as text or JSON (overrides MONITOR_LOG_FORMAT).",
    ),
]

# Ids and limits: any number the database's 64-bit integers hold. A larger one reached
# the driver and ended in an OverflowError ("internal error"); now it is a usage error.
ROW_ID = click.IntRange(min=1, max=2**63 - 1)

JSON_OPTION = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON array on stdout, nothing else there (logs go to stderr).",
)


def global_options(f: F) -> F:
    for option in reversed(GLOBAL_OPTIONS):
        f = option(f)
    return f


def command(group: click.Group, name: str, *, example: str, **kw: Any) -> Callable[[F], F]:
    """A command of ``group`` with the global options, help ending in an example, and
    logging set up before it runs."""

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def run(*args: Any, **kwargs: Any) -> Any:
            st = state()
            if "as_json" in kwargs:
                kwargs["as_json"] = st.json = bool(kwargs["as_json"] or st.json)
            elif st.json:
                path = click.get_current_context().command_path
                raise click.UsageError(f"--json: `{path}` prints no listing")
            st.start()
            try:
                return f(*args, **kwargs)
            except BrokenPipeError as exc:
                # before click sees it: click would exit 1 without a word
                raise OutputClosed from exc
            except Exception as exc:
                # a database fault is reported naming the database (cli.faults); click's
                # own exits and errors carry no note
                if not isinstance(exc, click.exceptions.Exit | click.ClickException):
                    shown = st.database_shown()
                    if shown is not None:
                        exc.add_note(f"{DATABASE_NOTE}{shown}")
                raise

        epilog = f"Example:\n\n\b\n  {example}"
        group.command(name, epilog=epilog, **kw)(global_options(run))
        return f

    return wrap


# ----------------------------------------------------------------------- output


def print_problems(problems: Sequence[Problem], *, as_json: bool) -> None:
    """Located problems on stdout: one ``path:line:col: message`` line each, or with
    ``--json`` one array of objects (file, line, column, message)."""
    if as_json:
        from monitor.rules.report import problem_json

        emit_json(problem_json(p) for p in problems)
    else:
        for p in problems:
            echo(str(p))


def run_async(work: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, importing asyncio (~25 ms) only in the commands that run a loop."""
    import asyncio

    return asyncio.run(_terminable(work))


async def _terminable(work: Coroutine[Any, Any, T]) -> T:
    """``work``, which SIGTERM cancels on its loop, then ends as ``Terminated`` once
    unwound. The command's own handler raises ``Terminated`` in the main thread wherever
    it is: landing inside a poll task's step, it ended that task without the cancellation
    its poll gives its source back on, and the lease stayed held."""
    import asyncio
    import signal

    from monitor.cli import Terminated, _terminate

    previous = signal.getsignal(signal.SIGTERM)
    if previous is not _terminate:  # not the command line's main thread: left as it is
        return await work
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    hit: list[bool] = []

    def on_term() -> None:
        hit.append(True)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    try:
        return await work
    except asyncio.CancelledError:
        if hit:
            raise Terminated from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        signal.signal(signal.SIGTERM, previous)


def emit_json(rows: Iterable[Any]) -> None:
    """One JSON array on stdout: read models (dataclasses) keep their field names.

    Always UTF-8 text: a file name that is not UTF-8 reaches here as lone surrogates,
    which were written back as raw bytes (invalid JSON) or ended the command in a
    UnicodeEncodeError after its work was stored; each becomes U+FFFD."""
    from monitor.jsonable import plain

    text = json.dumps(plain(list(rows)), ensure_ascii=False, indent=2)
    if not text.isascii():
        try:  # a byte the file system gave back as a surrogate: one U+FFFD
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # another lone surrogate
            raw = text.encode("utf-8", "surrogatepass")
        text = raw.decode("utf-8", "replace")
    text += "\n"
    # in pieces: one large write into a pipe closed meanwhile (`| head`) loses the
    # broken pipe in the buffered writer, and the command would end as if all was read
    for at in range(0, len(text), 8192):
        sys.stdout.write(text[at : at + 8192])


def echo(text: str = "", *, err: bool = False) -> None:
    print(text, file=sys.stderr if err else sys.stdout)


# ------------------------------------------------------------------------ dates


if TYPE_CHECKING:
    _ParamType = click.ParamType[datetime, Any]  # generic in recent click
else:
    _ParamType = click.ParamType


class DateParam(_ParamType):
    """YYYY-MM-DD or an ISO timestamp; a date without a zone is UTC. A malformed date is
    bad usage (exit 2)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            ts = datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)", param, ctx)
        return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


DATE = DateParam()
