"""The one wrapper of every command line (pipeline.run, pipeline.adapt, training.train, eval.run, ...).

A ``retrieval.errors.UserError`` (bad input, config or environment) prints one ``error: <message>`` line on stderr
and exits with status 2, with no traceback on the terminal; a CLI that logs to a file (a ``logging.FileHandler``
on the root logger) gets the traceback there. Ctrl-C (and, with ``sigterm=True``, a plain ``kill``) prints one
``interrupted`` line and exits with status 130. Any other exception is a bug and keeps its traceback.

Example::

    >>> from retrieval.errors import ConfigError
    >>> @cli_main()
    ... def main(argv: list[str] | None = None) -> int:
    ...     raise ConfigError("--max-steps must be positive")
    >>> main([])  # prints "error: --max-steps must be positive" on stderr
    2
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

from retrieval.errors import UserError

EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a Ctrl-C
RESUMABLE = "interrupted: rerun the same command to resume; finished work is kept"  # for resumable commands

Main = Callable[[list[str] | None], int | None]


def cli_main(interrupted: str = "interrupted", hard_exit: bool = False,
             sigterm: bool = False) -> Callable[[Main], Callable[[list[str] | None], int]]:
    """Decorate a CLI's ``main(argv) -> exit status`` so user errors and interrupts end it as described above.

    Args:
        interrupted: the line printed on Ctrl-C, e.g. how to resume.
        hard_exit: on Ctrl-C leave with ``os._exit`` (after flushing): worker threads of an interrupted inference
            would otherwise keep the process alive. Only for work that is safe to kill at any point.
        sigterm: while ``main`` runs, a SIGTERM (plain ``kill``) interrupts it like Ctrl-C, so cleanups run.

    Example::

        >>> @cli_main(interrupted="interrupted: rerun to resume")
        ... def main(argv: list[str] | None = None) -> int:
        ...     return 0
        >>> main(["--help-me"])
        0
    """

    def decorate(main: Main) -> Callable[[list[str] | None], int]:
        @functools.wraps(main)
        def wrapped(argv: list[str] | None = None) -> int:
            return run_cli(main, argv, interrupted=interrupted, hard_exit=hard_exit, sigterm=sigterm)

        return wrapped

    return decorate


def positive_int(text: str) -> int:
    """argparse ``type=`` for counts and sizes: an integer of at least 1, or argparse's usage error (status 2).

    Example::

        >>> positive_int("64")
        64
        >>> positive_int("0")
        Traceback (most recent call last):
        argparse.ArgumentTypeError: must be a whole number of at least 1, not '0'
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def run_cli(main: Main, argv: list[str] | None = None, *, interrupted: str = "interrupted", hard_exit: bool = False,
            sigterm: bool = False) -> int:
    """``main(argv)``'s exit status (None counts as 0), 2 after a user error, 130 after an interrupt."""
    on_sigterm = sigterm and threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if on_sigterm else None
    try:
        return main(argv) or EXIT_OK
    except UserError as exc:
        _log_traceback(exc)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr, flush=True)
        if hard_exit:
            sys.stdout.flush()
            os._exit(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    finally:
        if on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    """A plain ``kill`` (SIGTERM) stops the command like Ctrl-C: cleanups run (no local LLM server left behind)."""
    raise KeyboardInterrupt


def _log_traceback(exc: BaseException) -> None:
    """The traceback of ``exc`` into every log file of the root logger (the terminal shows only the message)."""
    files = [h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)]
    if not files:
        return
    record = logging.getLogger(__name__).makeRecord(
        __name__, logging.ERROR, __file__, 0, "error: %s", (exc,), (type(exc), exc, exc.__traceback__)
    )
    for handler in files:
        handler.handle(record)
