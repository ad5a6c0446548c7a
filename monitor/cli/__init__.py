"""The command line (DESIGN.md section 6): command groups on click.

Listings take ``--json`` and then print exactly one JSON array on stdout; logs go to
stderr. Exit codes: 0 ok, 1 an error with a one-line cause, 2 bad usage, 130 interrupted
(Ctrl-C); on SIGTERM the command unwinds as on Ctrl-C, says "terminated" and ends by the
signal (a shell shows 143). No command ends in a traceback: a user mistake or a fault of
the environment (a bad setting, a closed pipe, a corrupt, read-only or full database) is
one line naming the cause; anything else is one line too, with the traceback under
``-v``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

import click

from monitor.cli import base
from monitor.cli.root import root

TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process the signal ended


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a service manager stopping a one-shot command): unwound like
    Ctrl-C, so that transactions roll back and a poll gives its sources' leases back
    instead of leaving them held until they expire. The daemon handles it itself."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    # Not where SIGTERM cannot be caught (a thread) or was meant to be ignored (nohup-like
    # parents set SIG_IGN, as Python itself honours for SIGINT).
    handle = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN
    )
    previous = signal.signal(signal.SIGTERM, _terminate) if handle else None
    try:
        code = _main(argv)
    finally:
        if handle:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    if code == TERMINATED and argv is None:
        # The program itself (not main() called with arguments, as tests do): end by the
        # signal, now that everything is unwound, so that a service manager sees a stop
        # by SIGTERM (a clean one for systemd), not an exit status of failure.
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGTERM)
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # not standalone: errors come back here, and an exit code is returned
        rv = root.main(args, prog_name="monitor", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
        sys.stdout.flush()
        return code
    except click.UsageError as exc:
        exc.show()
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt) as exc:
        # click turns an interrupt into Abort, the interrupt as its cause
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated):
            print("monitor: terminated", file=sys.stderr)
            return TERMINATED
        print("monitor: interrupted", file=sys.stderr)
        return 130
    except (BrokenPipeError, base.OutputClosed):
        _silence_stdout()
        print("monitor: error: output closed before it was all written", file=sys.stderr)
        return 1
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        return _report(exc, verbose=bool({"-v", "--verbose"} & set(args)))


def _silence_stdout() -> None:
    # the interpreter flushes stdout again at exit: point it at nothing first
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _report(exc: BaseException, *, verbose: bool) -> int:
    from monitor.cli.faults import describe

    code, lines = describe(exc)
    if verbose and code == 1 and not lines:
        import traceback

        traceback.print_exception(exc)
    hint = "" if verbose else " (run with -v)"  # with -v, the traceback is above
    for line in lines or [f"internal error: {type(exc).__name__}: {exc}{hint}"]:
        print(f"monitor: error: {line}", file=sys.stderr)
    return code
