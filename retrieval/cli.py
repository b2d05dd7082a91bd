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
import time
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
        hard_exit: on Ctrl-C, and after a user error that leaves worker threads running, leave with ``os._exit``
            (after flushing): the threads of a stopped inference (an asyncio loop, aiosqlite's connection thread)
            would otherwise keep the process alive for ever. Only for work that is safe to kill at any point.
        sigterm: while ``main`` runs, a SIGTERM (plain ``kill``) interrupts it like Ctrl-C, so cleanups run, and
            Ctrl-C raises at once wherever the main thread is (also inside ``asyncio.run``). An error
            that follows the signal (the LLM server of the same process group died with it) counts as the
            interrupt: the resume line and status 130.

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
    killed = threading.Event()
    already_running = set(threading.enumerate())  # only threads the command starts may keep it from exiting
    thread_hook = threading.excepthook

    def raise_interrupt(signum: int, frame: object) -> None:
        """A plain ``kill`` (or Ctrl-C) stops the command: cleanups run (no local LLM server left behind)."""
        killed.set()
        threading.excepthook = _quiet_thread_error  # helper threads dying with the stop are not news to the user
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, raise_interrupt) if on_sigterm else None
    # Ctrl-C the same way, so both stops take one path (at Python's default, asyncio.run inside datatrove's inference
    # would turn it into a task cancellation instead). A SIGINT the parent set to be ignored (a background job)
    # stays ignored.
    own_sigint = on_sigterm and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    previous_int = signal.signal(signal.SIGINT, raise_interrupt) if own_sigint else None
    try:
        return main(argv) or EXIT_OK
    except UserError as exc:
        _log_traceback(exc)
        if killed.is_set():  # e.g. "connection reset": the LLM server got the same signal; the stop is the cause
            print(f"{interrupted} (after: {str(exc).splitlines()[0]})", file=sys.stderr, flush=True)
            return _leave(EXIT_INTERRUPTED, hard_exit)
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return _leave(EXIT_USER_ERROR, hard_exit and _threads_left(ignore=already_running))
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr, flush=True)
        return _leave(EXIT_INTERRUPTED, hard_exit)
    finally:
        if on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if own_sigint:
            signal.signal(signal.SIGINT, previous_int)
        threading.excepthook = thread_hook


def _quiet_thread_error(args: threading.ExceptHookArgs) -> None:
    """After an interrupt, a helper thread that fails as the run stops (aiosqlite's connection thread posting to an
    event loop that is already closed) goes to the log files only, not to the terminal."""
    if args.exc_value is not None:
        _log_traceback(args.exc_value)


def _leave(status: int, now: bool) -> int:
    """``status``, or (``now``) end the process with it at once, skipping the wait for non-daemon threads."""
    if now:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _threads_left(grace_s: float = 3.0, ignore: set[threading.Thread] | None = None) -> bool:
    """Whether non-daemon threads other than this one (and those in ``ignore``) are still running after ``grace_s``
    seconds: the interpreter would wait for them at exit, for ever when they are the loop threads of an inference
    stopped by an error."""
    others = [t for t in threading.enumerate()
              if t is not threading.current_thread() and not t.daemon and t not in (ignore or set())]
    deadline = time.monotonic() + grace_s
    for thread in others:
        thread.join(max(0.0, deadline - time.monotonic()))
    return any(t.is_alive() for t in others)


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
